"""Read-only access to one built index directory: manifest, catalogue rows, code records and dense vectors."""
from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path

import faiss
import numpy as np

from embeddings import index as ix
from embeddings.content import ContentEntry
from embeddings.records import Code, code_key


class IndexStore:
    """Opened once per process and never written; safe to share between threads and replicas."""

    def __init__(self, directory: Path, verify_checksums: bool = True, ef_search: int = 128):
        # Resolve the symlink once: a rebuild swapping the link later cannot mix files of two builds.
        self.directory = Path(directory).resolve()
        self.manifest = ix.read_manifest(self.directory)
        ix.verify_files(self.directory, self.manifest, checksums=verify_checksums)
        self._local = threading.local()
        self.systems = {name: info for name, info in self.manifest["systems"].items()}
        self.dense: dict[str, faiss.Index] = {}
        self.ids: dict[str, np.ndarray] = {}
        for system in self.systems:
            try:
                dense = faiss.read_index(str(self.directory / ix.dense_file(system)))
            except RuntimeError:
                raise ix.IndexLoadError(f"{ix.dense_file(system)} in {self.directory} cannot be read; "
                                        "rebuild with `medcodes build`.") from None
            if hasattr(dense, "hnsw"):
                dense.hnsw.efSearch = ef_search
            self.dense[system] = dense
            self.ids[system] = np.load(self.directory / ix.ids_file(system))
        rows = self.db.execute("SELECT billable, chapter, system FROM codes ORDER BY id").fetchall()
        self.billable = np.fromiter((r[0] for r in rows), dtype=bool, count=len(rows))
        self.chapter = np.array([r[1] for r in rows], dtype=object)
        self.system_of = np.array([r[2] for r in rows], dtype=object)

    @property
    def db(self) -> sqlite3.Connection:
        conn = getattr(self._local, "db", None)
        if conn is None:
            uri = f"file:{self.directory / ix.CATALOGUE}?mode=ro&immutable=1"
            conn = sqlite3.connect(uri, uri=True, check_same_thread=False)
            self._local.db = conn
        return conn

    @property
    def model(self) -> dict:
        return self.manifest["model"]

    def rows(self, ids: list[int]) -> dict[int, sqlite3.Row]:
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        cur = self.db.execute(f"SELECT id, system, code, title, billable, kind, chapter, parent FROM codes "
                              f"WHERE id IN ({marks})", ids)
        return {r[0]: r for r in cur}

    def code_id(self, system: str, code: str) -> int | None:
        row = self.db.execute("SELECT id FROM codes WHERE system = ? AND key = ?", (system, code_key(code))).fetchone()
        return row[0] if row else None

    def record(self, system: str, code: str) -> Code | None:
        row = self.db.execute("SELECT record FROM codes WHERE system = ? AND key = ?",
                              (system, code_key(code))).fetchone()
        return Code.from_dict(json.loads(row[0])) if row else None

    def records(self, system: str, codes: list[str]) -> dict[str, Code]:
        keys = [code_key(c) for c in codes]
        if not keys:
            return {}
        marks = ",".join("?" * len(keys))
        cur = self.db.execute(f"SELECT record FROM codes WHERE system = ? AND key IN ({marks})", [system, *keys])
        found = (Code.from_dict(json.loads(r[0])) for r in cur)
        return {c.code: c for c in found}

    def children(self, system: str, code: str) -> list[sqlite3.Row]:
        return self.db.execute("SELECT id, system, code, title, billable, kind, chapter, parent FROM codes "
                               "WHERE system = ? AND parent = ? ORDER BY id", (system, code)).fetchall()

    def content(self, system: str, code: str) -> ContentEntry | None:
        row = self.db.execute("SELECT source, sections FROM content WHERE system = ? AND key = ?",
                              (system, code_key(code))).fetchone()
        if row is None:
            return None
        return ContentEntry(system, code, tuple(tuple(s) for s in json.loads(row[1])), row[0])

    def embed_text(self, row_id: int) -> str:
        row = self.db.execute("SELECT embed_text FROM codes WHERE id = ?", (row_id,)).fetchone()
        return row[0] if row else ""

    def vector(self, system: str, row_id: int) -> np.ndarray | None:
        ids = self.ids.get(system)
        if ids is None:
            return None
        pos = int(np.searchsorted(ids, row_id))  # ids are written in ascending catalogue order
        if pos >= len(ids) or ids[pos] != row_id:
            return None
        return self.dense[system].reconstruct(pos)
