"""What an index directory holds: file names, table schemas and the checked manifest."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Sequence

from embeddings.files import DigestMemo, file_digest
from embeddings.records import SystemInfo

FORMAT = 3  # 2: the claim column (short descriptions) and the mined abbreviations table; 3: the names table
MANIFEST = "manifest.json"
CATALOGUE = "catalogue.sqlite"
GROUPINGS = "groupings.sqlite"

# The lexical table's tokenizer (Porter stems over unicode61): the store stems query words with it too.
TOKENIZE = "'porter unicode61 remove_diacritics 2'"
CATALOGUE_SCHEMA = f"""
CREATE TABLE systems (name TEXT PRIMARY KEY, info TEXT NOT NULL);
CREATE TABLE codes (
    id INTEGER PRIMARY KEY, system TEXT NOT NULL, code TEXT NOT NULL, key TEXT NOT NULL,
    title TEXT NOT NULL, billable INTEGER NOT NULL, kind TEXT NOT NULL, parent TEXT NOT NULL,
    chapter TEXT NOT NULL, depth INTEGER NOT NULL, record TEXT NOT NULL, embed_text TEXT NOT NULL);
CREATE UNIQUE INDEX codes_system_key ON codes(system, key);
CREATE INDEX codes_key ON codes(key);
CREATE INDEX codes_parent ON codes(system, parent);
CREATE VIRTUAL TABLE lexical USING fts5(title, terms, context, claim,
    tokenize = {TOKENIZE}, prefix = '2 3 4');
CREATE TABLE vocabulary (word TEXT PRIMARY KEY, freq INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE abbreviations (word TEXT PRIMARY KEY, expansion TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE conditions (word TEXT PRIMARY KEY, titles INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE content (system TEXT NOT NULL, key TEXT NOT NULL, source TEXT NOT NULL, sections TEXT NOT NULL,
    PRIMARY KEY (system, key));
CREATE TABLE mentions (system TEXT NOT NULL, key TEXT NOT NULL, source TEXT NOT NULL, kind TEXT NOT NULL,
    text TEXT NOT NULL);
CREATE INDEX mentions_code ON mentions(system, key);
CREATE TABLE names (id INTEGER NOT NULL, name TEXT NOT NULL, official INTEGER NOT NULL);
CREATE INDEX names_id ON names(id);
"""

GROUPINGS_SCHEMA = """
CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE labels (system TEXT NOT NULL, scheme TEXT NOT NULL, grp TEXT NOT NULL, label TEXT NOT NULL,
    PRIMARY KEY (system, scheme, grp));
CREATE TABLE groups (system TEXT NOT NULL, key TEXT NOT NULL, scheme TEXT NOT NULL, grp TEXT NOT NULL);
CREATE TABLE families (system TEXT NOT NULL, key TEXT NOT NULL, stem TEXT NOT NULL, side TEXT NOT NULL,
    detail TEXT NOT NULL, PRIMARY KEY (system, key));
CREATE TABLE gems (system TEXT NOT NULL, key TEXT NOT NULL, icd9 TEXT NOT NULL, title TEXT NOT NULL,
    direction TEXT NOT NULL, approximate INTEGER NOT NULL, combination INTEGER NOT NULL);
CREATE INDEX gems_code ON gems(system, key);
CREATE INDEX gems_icd9 ON gems(icd9);
"""


class IndexLoadError(RuntimeError):
    """The index directory is missing, incomplete, corrupted or built for another model."""


def dense_file(system: str) -> str:
    return f"dense-{system}.faiss"


def ids_file(system: str) -> str:
    return f"ids-{system}.npy"


def info_dict(info: SystemInfo) -> dict:
    return {"name": info.name, "title": info.title, "version": info.version, "source": info.source,
            "licence": info.licence, "fhir_uri": info.fhir_uri, "counts": dict(info.counts),
            "default_search": info.default_search, "status": info.status, "years": list(info.years)}


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


def verify_files(directory: Path, manifest: dict, checksums: bool = True, memo: DigestMemo | None = None) -> None:
    """Every file the manifest lists is there with its size and (with `checksums`) its sha256; `memo` skips the
    files hashed before and unchanged since."""
    digest = memo.digest if memo is not None else file_digest
    for name, meta in manifest.get("files", {}).items():
        path = Path(directory) / name
        if not path.exists():
            raise IndexLoadError(f"index file {name} is missing from {directory}. Rebuild with `medcodes build`.")
        if path.stat().st_size != meta["bytes"]:
            raise IndexLoadError(f"index file {name} is {path.stat().st_size} bytes, the manifest says {meta['bytes']}: "
                                 "it is truncated or was changed. Rebuild with `medcodes build`.")
        if checksums and digest(path) != meta["sha256"]:
            raise IndexLoadError(f"index file {name} fails its checksum: it is corrupted. Rebuild with `medcodes build`.")


def check_model(manifest: dict, model_name: str, dim: int) -> None:
    built = manifest.get("model", {})
    if built.get("name") != model_name or built.get("dim") != dim:
        raise IndexLoadError(
            f"this index was built with model {built.get('name')!r} ({built.get('dim')}-d) but the service is running "
            f"{model_name!r} ({dim}-d). Start the service with the same model (MEDCODES_MODEL / MEDCODES_ENCODER), "
            "or rebuild the index with `medcodes build`.")


def link_checked(previous: Path, directory: Path, names: Sequence[str]) -> bool:
    """Hard-link (or copy) files of the previous build into a new one when their checksums still match its
    manifest; False, with nothing left behind, when anything is off and the caller writes them afresh."""
    files = read_manifest(previous).get("files", {})
    try:
        if not names or any(file_digest(previous / n) != files.get(n, {}).get("sha256") for n in names):
            return False
        for name in names:
            try:
                os.link(previous / name, directory / name)
            except OSError:
                shutil.copy2(previous / name, directory / name)
    except OSError:
        for name in names:
            (directory / name).unlink(missing_ok=True)
        return False
    return True
