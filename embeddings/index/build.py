"""Index build: load code sets, make documents, encode with cache, write to a temp dir, swap in atomically."""
from __future__ import annotations

import functools
import hashlib
import os
import resource
import shutil
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
from tqdm import tqdm

from embeddings import abbreviations, crossrefs, groupings
from embeddings.codesets import BUILTIN_SYSTEMS, CodeSet, history, load_codeset
from embeddings.codesets import custom as custom_loader
from embeddings.codesets.content import ContentEntry, load_pack
from embeddings.codesets.short import short_descriptions, with_short
from embeddings.documents import build_documents
from embeddings.encoders import Encoder, make_encoder
from embeddings.encoders.cache import EmbeddingCache, encode_all
from embeddings.encoders.stub import StubEncoder
from embeddings.files import fsync_tree
from embeddings.index import format as ix
from embeddings.index import neighbours, progress, reuse, store, term_vectors, writer
from embeddings.index.builds import BuildError, build_lock, builds_dir, prune, remove_debris, swap_in
from embeddings.index.dense import previous_build, write_systems
from embeddings.records import Code, code_key
from embeddings.settings import Settings

STAGES = ("full", "words")
WORDS_DIM = 128  # word-hash vectors of a first stage only feed Similar Codes until the model's vectors land


@dataclass(frozen=True)
class BuildRequest:
    systems: tuple[str, ...] = BUILTIN_SYSTEMS
    sources: dict = field(default_factory=dict)
    custom: dict = field(default_factory=dict)
    prefixes: tuple[str, ...] = ()
    content: tuple = ()
    held_out: dict = field(default_factory=dict, compare=False)
    # "full": the model's vectors; "words": a first index in a minute or two with word-hash vectors and no model,
    # served (code lookup, word search, pages, Similar Codes by hierarchy and groups) while the full one builds.
    stage: str = "full"


@dataclass(frozen=True)
class BuildReport:
    path: Path
    counts: dict
    encoded: int
    reused: int
    seconds: float
    skipped: bool = False
    warnings: tuple[str, ...] = ()


def fingerprint(settings: Settings, request: BuildRequest, model_name: str) -> str:
    """Changes whenever anything that shapes the index changes: code, data packages, inputs, model, settings."""
    h = hashlib.sha256(reuse.inputs_digest(request).encode())
    h.update(repr((model_name, settings.index_type, settings.hnsw_m, settings.hnsw_ef_construction,
                   request.stage)).encode())
    return h.hexdigest()[:16]


def current_fingerprint(index_dir: Path) -> str | None:
    try:
        return ix.read_manifest(index_dir).get("fingerprint")
    except ix.IndexLoadError:
        return None


def load_codesets(request: BuildRequest) -> list[CodeSet]:
    """The built-in systems (cut to `prefixes` when given: a subset for tests and trials), then custom files whole."""
    sets = [load_codeset(name, request.sources.get(name)) for name in request.systems]
    # Short descriptions come from the packaged tables, so only for codes loaded from the packages.
    sets = [CodeSet(s.info, with_short(s.codes, short_descriptions(s.info.name))) if s.info.name not in request.sources
            else s for s in sets]
    sets = [history.with_history(s, history.earlier_codes(s.info.name)) for s in sets]
    if request.prefixes:
        cut = [_only_prefixes(s, request.prefixes) for s in sets]
        # A subset for tests and trials keeps only the systems its prefixes reach, unless none is reached.
        sets = [s for s in cut if s.codes] or cut
    return sets + [custom_loader.load(name, Path(path)) for name, path in request.custom.items()]


def _only_prefixes(codeset: CodeSet, prefixes: tuple[str, ...]) -> CodeSet:
    """Codes under the given prefixes plus every ancestor, so a subset keeps a whole hierarchy. A prefix
    'SYSTEM:PREFIX' applies to that system only (icd9cm:410); a bare prefix to every system."""
    name = codeset.info.name
    keys = tuple(code_key(p.partition(":")[2] if ":" in p else p) for p in prefixes
                 if ":" not in p or p.partition(":")[0] == name)
    if not keys:
        keys = ("\0",)  # nothing of this system is wanted
    chosen = [c for c in codeset.codes if c.key.startswith(keys)]
    wanted = {c.code for c in chosen} | {p for c in chosen for p in c.parents}
    codes = tuple(c for c in codeset.codes if c.code in wanted)
    counts = {"codes": len(codes), "billable": sum(c.billable for c in codes)}
    info = codeset.info.__class__(**{**codeset.info.__dict__, "counts": counts})
    return CodeSet(info=info, codes=codes)


def build_index(settings: Settings, request: BuildRequest = BuildRequest(), encoder: Encoder | None = None,
                force: bool = True, log: Callable[[str], None] = lambda m: print(m, file=sys.stderr)) -> BuildReport:
    started = time.monotonic()
    index_dir = Path(settings.index_dir)
    with build_lock(index_dir):
        remove_debris(index_dir)
        if request.stage not in STAGES:
            raise BuildError(f"unknown build stage {request.stage!r}; use one of {', '.join(STAGES)}")
        if request.stage == "words":
            encoder, settings = StubEncoder(WORDS_DIM), settings.replace(index_type="flat")
        encoder = encoder or make_encoder(settings.encoder, settings.model, settings.threads, Path(settings.cache_dir))
        stamp = fingerprint(settings, request, encoder.name)
        if not force and current_fingerprint(index_dir) == stamp:
            log(f"index at {index_dir} is up to date ({stamp}); nothing to build")
            return BuildReport(index_dir, ix.read_manifest(index_dir)["counts"], 0, 0, 0.0, skipped=True)
        log("loading code sets ...")
        codesets = reuse.load_cached(request, Path(settings.cache_dir), lambda: load_codesets(request))
        empty = [s.info.name for s in codesets if not s.codes]
        if empty:
            raise BuildError(f"code system {', '.join(empty)} has no codes in this build (check --prefixes and the "
                             "source file); the previous index keeps serving")
        codes = [c for s in codesets for c in s.codes]
        titles = {(c.system, c.code): c.title for c in codes}
        content, warnings = match_content(request.content, codes)
        for warning in warnings:
            log(f"warning: {warning}")
        named = functools.cache(lambda: crossrefs.mentions(codes, crossrefs.held_forms(request.held_out)))
        docs = reuse.documents_cached(request, Path(settings.cache_dir), lambda: build_documents(
            codes, titles, request.held_out, {(e.system, e.code): e for e in content}, named()))
        log(f"{len(codes):,} codes in {len(codesets)} systems; encoding with {encoder.name} ...")
        vectors, encoded = _encode(settings, encoder, [d.embed_text for d in docs], index_dir, request.stage)
        tmp = builds_dir(index_dir) / f".tmp-{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        tmp.mkdir(parents=True)
        try:
            log("writing catalogue and dense indexes ...")
            # Query-time tables (claim abbreviations, the spelling vocabulary) learn only from the systems a search of
            # all systems covers: ICD-9-CM and DRG wording never rewrites an ICD-10 query.
            scoped = {s.info.name for s in codesets if s.info.default_search}
            claim_words = abbreviations.mine_cached(abbreviations.pairs([c for c in codes if c.system in scoped],
                                                                        request.held_out), Path(settings.cache_dir))
            previous = previous_build(index_dir)
            tables_from = reuse.inputs_digest(request)
            tables_reused = reuse.link_tables(previous, tmp, tables_from)
            if not tables_reused:
                writer.write_catalogue(tmp / ix.CATALOGUE, [s.info for s in codesets], codes, docs, content,
                                       claim_words, scoped, named())
                groupings.write_cached(tmp / ix.GROUPINGS, codes, Path(settings.cache_dir))
            dense_digests, reused_dense = write_systems(
                tmp, [c.system for c in codes], vectors, (settings.index_type, settings.hnsw_m,
                                                          settings.hnsw_ef_construction), previous)
            synonyms = (term_vectors.write(tmp, [d.synonyms for d in docs],
                                           lambda texts: _encode_cached(settings, encoder, texts)[0])
                        if request.stage == "full" else 0)
            counts = _counts(codesets)
            figures: dict[str, object] = {
                "seconds": round(time.monotonic() - started, 1), "encoded": encoded, "reused": len(docs) - encoded,
                "dense_reused": reused_dense, "tables_reused": tables_reused,
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}
            manifest = {
                "fingerprint": stamp, "model": {"name": encoder.name, "dim": encoder.dim}, "stage": request.stage,
                "index_type": settings.index_type, "hnsw": {"m": settings.hnsw_m}, "dense": dense_digests,
                "systems": {s.info.name: ix.info_dict(s.info) for s in codesets}, "counts": counts,
                "abbreviations": len(claim_words), "tables_from": tables_from, "synonym_vectors": synonyms,
                "content": {"packs": sorted({e.source for e in content}), "entries": len(content),
                            "warnings": list(warnings)},
                "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "build": figures,
            }
            # The Similar Codes tables: linked from the serving build when catalogue and groupings are byte for byte
            # the same, else computed from the new catalogue as a server opens it (by a first manifest); the final
            # manifest lists them too.
            figures["neighbours_reused"] = neighbours.reuse(previous, tmp)
            if not figures["neighbours_reused"]:
                ix.write_manifest(tmp, manifest)
                neighbours.write(neighbours.compute(store.IndexStore(tmp, verify_checksums=False)), tmp)
            ix.write_manifest(tmp, manifest)
            fsync_tree(tmp)  # every file on disk before the directory becomes a build a link may point to
            validate_build(tmp, encoder.dim, settings.hnsw_ef_search)
            final = tmp.with_name(tmp.name.removeprefix(".tmp-"))
            os.rename(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        swap_in(index_dir, final)
        prune(index_dir)
        seconds = time.monotonic() - started
        log(f"built {counts['codes']:,} codes in {seconds:.0f}s -> {index_dir.name}")
        return BuildReport(index_dir, counts, encoded, len(docs) - encoded, seconds, warnings=tuple(warnings))


def _encode(settings: Settings, encoder: Encoder, texts: list[str], index_dir: Path,
            stage: str) -> tuple[np.ndarray, int]:
    if stage == "words":  # hashing words is quick: no cache, no progress to report
        return encode_all(encoder, texts, None, settings.batch_size * 16)
    bar = _progress_bar() if len(texts) > 1000 else None
    report = progress.Reporter(progress.progress_file(index_dir))

    def update(done: int, total: int) -> None:
        report(done, total)
        if bar:
            bar(done, total)
    try:
        return _encode_cached(settings, encoder, texts, update)
    finally:
        report.finish()


def _encode_cached(settings: Settings, encoder: Encoder, texts: list[str],
                   update: Callable[[int, int], None] | None = None) -> tuple[np.ndarray, int]:
    """Vectors through the build's embedding cache (documents with progress reported; synonyms without)."""
    cache = EmbeddingCache(Path(settings.cache_dir), encoder.name, encoder.dim)
    try:
        return encode_all(encoder, texts, cache, settings.batch_size, progress=update)
    finally:
        cache.close()


def validate_build(directory: Path, dim: int, ef_search: int) -> None:
    """Open the new build the way a server will and ask it something; any failure refuses the swap."""
    try:
        opened = store.IndexStore(directory, verify_checksums=True, ef_search=ef_search)
        for system, info in opened.systems.items():
            count = int(info.get("counts", {}).get("codes", 0))
            dense = opened.dense[system]
            if count == 0 or dense.ntotal != count or dense.d != dim or len(opened.ids[system]) != count:
                raise BuildError(f"{system}: {count} codes but {dense.ntotal} vectors of {dense.d} dimensions")
            probe = opened.page(system, 1, 0)
            if not probe or opened.record(system, probe[0].code) is None:
                raise BuildError(f"{system}: the probe lookup of its first code answered nothing")
            probe_vector = opened.vector(system, probe[0].id)
            if probe_vector is None or dense.search(probe_vector.reshape(1, -1), 1)[1][0][0] < 0:
                raise BuildError(f"{system}: the probe vector search answered nothing")
    except (ix.IndexLoadError, BuildError) as exc:
        raise BuildError(f"the new index failed validation, the previous one keeps serving: {exc}") from None


def match_content(packs: tuple[Path, ...] | list[Path], codes: list[Code]) -> tuple[list[ContentEntry], list[str]]:
    """Attach pack entries to codes by (system, code) ignoring dots and case; unknown codes become warnings."""
    by_key = {(c.system, c.key): c for c in codes}
    matched: list[ContentEntry] = []
    warnings: list[str] = []
    seen: dict[tuple[str, str], str] = {}
    for folder in packs:
        report = load_pack(Path(folder))
        warnings.extend(report.warnings)
        for entry in report.entries:
            code = by_key.get((entry.system, code_key(entry.code)))
            if code is None:
                warnings.append(f"content pack {entry.source}: {entry.system}/{entry.code} is not a code in this build")
                continue
            where = f"{entry.source}/{entry.system}/{entry.code}"
            if (code.system, code.code) in seen:
                raise BuildError(f"content packs give {code.system} {code.code} twice ({seen[code.system, code.code]} "
                                 f"and {where}); keep one entry per code")
            seen[code.system, code.code] = where
            matched.append(ContentEntry(code.system, code.code, entry.sections, entry.source))
    return matched, warnings


def _counts(codesets: list[CodeSet]) -> dict:
    per = {s.info.name: dict(s.info.counts) for s in codesets}
    return {"codes": sum(c["codes"] for c in per.values()),
            "billable": sum(c["billable"] for c in per.values()), "systems": per}


def _progress_bar() -> Callable[[int, int], None]:
    bar: dict[str, tqdm] = {}

    def update(done: int, total: int) -> None:
        if "bar" not in bar:
            bar["bar"] = tqdm(total=total, unit="text", desc="encoding", mininterval=2.0, smoothing=0.05)
        bar["bar"].update(done - bar["bar"].n)
        if done >= total:
            bar["bar"].close()
    return update
