"""The index directory: SQLite catalogue with FTS5, one FAISS file per system, id sidecars and a checked manifest."""
from __future__ import annotations

import hashlib
import json
import re
import sqlite3
from collections import Counter
from pathlib import Path
from typing import Sequence

import faiss
import numpy as np

from embeddings.content import ContentEntry
from embeddings.documents import Document
from embeddings.records import Code, SystemInfo, code_key

FORMAT = 1
MANIFEST = "manifest.json"
CATALOGUE = "catalogue.sqlite"
_WORD = re.compile(r"[a-z][a-z0-9']{2,}")


class IndexLoadError(RuntimeError):
    """The index directory is missing, incomplete, corrupted or built for another model."""


def dense_file(system: str) -> str:
    return f"dense-{system}.faiss"


def ids_file(system: str) -> str:
    return f"ids-{system}.npy"


SCHEMA = """
CREATE TABLE systems (name TEXT PRIMARY KEY, info TEXT NOT NULL);
CREATE TABLE codes (
    id INTEGER PRIMARY KEY, system TEXT NOT NULL, code TEXT NOT NULL, key TEXT NOT NULL,
    title TEXT NOT NULL, billable INTEGER NOT NULL, kind TEXT NOT NULL, parent TEXT NOT NULL,
    chapter TEXT NOT NULL, depth INTEGER NOT NULL, record TEXT NOT NULL, embed_text TEXT NOT NULL);
CREATE UNIQUE INDEX codes_system_key ON codes(system, key);
CREATE INDEX codes_key ON codes(key);
CREATE INDEX codes_parent ON codes(system, parent);
CREATE VIRTUAL TABLE lexical USING fts5(title, terms, context,
    tokenize = 'porter unicode61 remove_diacritics 2', prefix = '2 3 4');
CREATE TABLE vocabulary (word TEXT PRIMARY KEY, freq INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE content (system TEXT NOT NULL, key TEXT NOT NULL, source TEXT NOT NULL, sections TEXT NOT NULL,
    PRIMARY KEY (system, key));
"""


def write_catalogue(path: Path, infos: Sequence[SystemInfo], codes: Sequence[Code], docs: Sequence[Document],
                    content: Sequence[ContentEntry] = ()) -> None:
    db = sqlite3.connect(path)
    try:
        db.executescript(SCHEMA)
        db.executemany("INSERT INTO systems VALUES (?, ?)",
                       [(i.name, json.dumps(info_dict(i))) for i in infos])
        rows = ((n, c.system, c.code, c.key, c.title, int(c.billable), c.kind, c.parent, c.chapter,
                 len(c.parents), json.dumps(c.to_dict(), separators=(",", ":")), d.embed_text)
                for n, (c, d) in enumerate(zip(codes, docs)))
        db.executemany("INSERT INTO codes VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", rows)
        db.executemany("INSERT INTO lexical(rowid, title, terms, context) VALUES (?,?,?,?)",
                       ((n, d.title, d.terms, d.context) for n, d in enumerate(docs)))
        db.executemany("INSERT INTO content VALUES (?, ?, ?, ?)",
                       [(e.system, code_key(e.code), e.source, json.dumps(e.sections)) for e in content])
        words = Counter(w for d in docs for w in _WORD.findall(f"{d.title} {d.terms}".lower()))
        db.executemany("INSERT INTO vocabulary VALUES (?, ?)", words.items())
        db.execute("INSERT INTO lexical(lexical) VALUES ('optimize')")
        db.commit()
        db.execute("VACUUM")
    finally:
        db.close()


def info_dict(info: SystemInfo) -> dict:
    return {"name": info.name, "title": info.title, "version": info.version, "source": info.source,
            "licence": info.licence, "fhir_uri": info.fhir_uri, "counts": dict(info.counts)}


def build_dense(vectors: np.ndarray, kind: str, m: int = 32, ef_construction: int = 80) -> faiss.Index:
    """Inner product on normalised vectors (= cosine). HNSW for speed at full size, flat where exact is wanted."""
    dim = vectors.shape[1]
    if kind == "flat" or len(vectors) < 2000:
        index = faiss.IndexFlatIP(dim)
    elif kind == "hnsw":
        index = faiss.IndexHNSWFlat(dim, m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = ef_construction
    else:
        raise ValueError(f"unknown index type {kind!r}; use 'hnsw' or 'flat'")
    index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def write_manifest(directory: Path, manifest: dict) -> None:
    files = sorted(p for p in directory.iterdir() if p.is_file() and p.name != MANIFEST)
    manifest = {**manifest, "format": FORMAT,
                "files": {p.name: {"bytes": p.stat().st_size, "sha256": file_digest(p)} for p in files}}
    (directory / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True))


def read_manifest(directory: Path) -> dict:
    path = Path(directory) / MANIFEST
    if not path.exists():
        raise IndexLoadError(f"no index at {directory}: {MANIFEST} is missing. Build one with `medcodes build`.")
    try:
        manifest = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise IndexLoadError(f"{path} is not valid JSON; the index is damaged. Rebuild with `medcodes build`.") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise IndexLoadError(f"{path} has format {manifest.get('format') if isinstance(manifest, dict) else '?'}, "
                             f"this medcodes reads format {FORMAT}. Rebuild with `medcodes build`.")
    return manifest


def verify_files(directory: Path, manifest: dict, checksums: bool = True) -> None:
    for name, meta in manifest.get("files", {}).items():
        path = Path(directory) / name
        if not path.exists():
            raise IndexLoadError(f"index file {name} is missing from {directory}. Rebuild with `medcodes build`.")
        if path.stat().st_size != meta["bytes"]:
            raise IndexLoadError(f"index file {name} is {path.stat().st_size} bytes, the manifest says {meta['bytes']}: "
                                 "it is truncated or was changed. Rebuild with `medcodes build`.")
        if checksums and file_digest(path) != meta["sha256"]:
            raise IndexLoadError(f"index file {name} fails its checksum: it is corrupted. Rebuild with `medcodes build`.")


def check_model(manifest: dict, model_name: str, dim: int) -> None:
    built = manifest.get("model", {})
    if built.get("name") != model_name or built.get("dim") != dim:
        raise IndexLoadError(
            f"this index was built with model {built.get('name')!r} ({built.get('dim')}-d) but the service is running "
            f"{model_name!r} ({dim}-d). Start the service with the same model (MEDCODES_MODEL / MEDCODES_ENCODER), "
            "or rebuild the index with `medcodes build`.")
