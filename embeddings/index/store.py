"""Every read of a built index (catalogue, groupings, vectors) as named rows; writer.py holds the writes."""
from __future__ import annotations

import json
import queue
import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Sequence

import faiss
import numpy as np

from embeddings.codesets.content import ContentEntry
from embeddings.index import format as fmt
from embeddings.index.dense import read_dense
from embeddings.index.rows import CodeRow, GemRow, GroupingTables, HierarchyRow, KeyRow, code_row
from embeddings.records import INACTIVE, Code, code_key

# Connections opened when an index is loaded and kept until it is dropped: a rebuild that prunes this build's
# directory cannot take the files from under a running server (open files outlive their directory entries).
POOL_SIZE = 8
ROW_COLUMNS = "id, system, code, title, billable, kind, chapter, parent"


MMAP_BYTES = 1 << 30  # SQLite reads the catalogue through a memory map of up to this size


class _Pool:
    """Read-only connections to one SQLite file, all opened now; a query borrows one and gives it back."""

    def __init__(self, path: Path, size: int = POOL_SIZE):
        self._free: queue.SimpleQueue[sqlite3.Connection] = queue.SimpleQueue()
        for _ in range(size):
            connection = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True, check_same_thread=False)
            connection.execute(f"PRAGMA mmap_size = {MMAP_BYTES}")  # pages shared by every process, not copied
            self._free.put(connection)

    @contextmanager
    def connection(self) -> Iterator[sqlite3.Connection]:
        conn = self._free.get()
        try:
            yield conn
        finally:
            self._free.put(conn)

    def all(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self.connection() as conn:
            return conn.execute(sql, list(args)).fetchall()

    def one(self, sql: str, args: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        with self.connection() as conn:
            row: tuple[Any, ...] | None = conn.execute(sql, list(args)).fetchone()
            return row


# BM25 column weights of the lexical table: a word in the title counts most, then synonyms, then the short
# description (claim text), then context (hierarchy, axis labels, inherited synonyms).
BM25_WEIGHTS = (10.0, 4.0, 1.0, 2.0)


class IndexStore:
    """One built index, opened once per process and never written; safe to share between threads."""

    def __init__(self, directory: Path, verify_checksums: bool = True, ef_search: int = 128):
        # Resolve the symlink once: a rebuild swapping the link later cannot mix files of two builds.
        self.directory = Path(directory).resolve()
        self.manifest = fmt.read_manifest(self.directory)
        fmt.verify_files(self.directory, self.manifest, checksums=verify_checksums)
        self.systems: dict[str, dict] = dict(self.manifest["systems"])
        # What a search of "all" systems covers: the current code sets and any custom ones, not the systems reached
        # only by name (retired ICD-9-CM, MS-DRG).
        self.scope: tuple[str, ...] = tuple(n for n, i in self.systems.items() if i.get("default_search", True))
        self._scoped = len(self.scope) < len(self.systems)
        # "words": a first index with word-hash vectors, served while the model's vectors are being built.
        self.stage: str = str(self.manifest.get("stage", "full"))
        self.dense: dict[str, faiss.Index] = {}
        self.ids: dict[str, np.ndarray] = {}
        for system in self.systems:
            self.dense[system], self.ids[system] = read_dense(self.directory, system, ef_search)
        self._catalogue = _Pool(self.directory / fmt.CATALOGUE)
        groupings = self.directory / fmt.GROUPINGS
        self.groupings_path: Path | None = groupings if groupings.exists() else None
        self._groupings = _Pool(groupings, size=2) if self.groupings_path else None
        rows = self._catalogue.all("SELECT billable, chapter, system, key, kind FROM codes ORDER BY id")
        self.billable = np.fromiter((r[0] for r in rows), dtype=bool, count=len(rows))
        self.inactive = np.fromiter((r[4] == INACTIVE for r in rows), dtype=bool, count=len(rows))
        self.chapter = np.array([r[1] for r in rows], dtype=object)
        self.system_of = np.array([r[2] for r in rows], dtype=object)
        self.key_of = np.array([r[3] for r in rows], dtype=object)

    @property
    def model(self) -> dict:
        return dict(self.manifest["model"])

    # -- code rows and records ----------------------------------------------------------------------
    def rows(self, ids: Sequence[int]) -> dict[int, CodeRow]:
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        found = self._catalogue.all(f"SELECT {ROW_COLUMNS} FROM codes WHERE id IN ({marks})", list(ids))
        return {int(r[0]): code_row(r) for r in found}

    def children(self, system: str, code: str) -> list[CodeRow]:
        found = self._catalogue.all(f"SELECT {ROW_COLUMNS} FROM codes WHERE system = ? AND parent = ? ORDER BY id",
                                    (system, code))
        return [code_row(r) for r in found]

    def page(self, system: str, count: int, offset: int) -> list[CodeRow]:
        """The system's codes in catalogue (tabular) order, `count` from `offset`: a seek by id, never a scan of
        `offset` rows, so a deep page costs what the first one does."""
        ids = self.ids.get(system)
        if ids is None or offset >= len(ids) or count <= 0:
            return []
        found = self._catalogue.all(f"SELECT {ROW_COLUMNS} FROM codes WHERE system = ? AND id >= ? ORDER BY id LIMIT ?",
                                    (system, int(ids[offset]), count))
        return [code_row(r) for r in found]

    def all_rows(self, billable_only: bool = False) -> list[CodeRow]:
        where = " WHERE billable = 1" if billable_only else ""
        return [code_row(r) for r in self._catalogue.all(f"SELECT {ROW_COLUMNS} FROM codes{where} ORDER BY id")]

    def hierarchy(self) -> list[HierarchyRow]:
        found = self._catalogue.all("SELECT id, system, code, key, parent, kind FROM codes ORDER BY id")
        return [HierarchyRow(int(r[0]), r[1], r[2], r[3], r[4], r[5]) for r in found]

    def code_id(self, system: str, code: str) -> int | None:
        row = self._catalogue.one("SELECT id FROM codes WHERE system = ? AND key = ?", (system, code_key(code)))
        return int(row[0]) if row else None

    def record(self, system: str, code: str) -> Code | None:
        row = self._catalogue.one("SELECT record FROM codes WHERE system = ? AND key = ?", (system, code_key(code)))
        return Code.from_dict(json.loads(row[0])) if row else None

    def records(self, system: str, codes: Sequence[str]) -> dict[str, Code]:
        keys = [code_key(c) for c in codes]
        if not keys:
            return {}
        marks = ",".join("?" * len(keys))
        found = self._catalogue.all(f"SELECT record FROM codes WHERE system = ? AND key IN ({marks})", [system, *keys])
        records = (Code.from_dict(json.loads(r[0])) for r in found)
        return {c.code: c for c in records}

    def records_containing(self, system: str, fragment: str) -> list[Code]:
        """Records of the system whose stored JSON contains `fragment` (a cheap pre-filter), in code order."""
        found = self._catalogue.all("SELECT record FROM codes WHERE system = ? AND instr(record, ?) > 0 ORDER BY id",
                                    (system, fragment))
        return [Code.from_dict(json.loads(r[0])) for r in found]

    def titles_starting(self, system: str, prefix: str) -> list[str]:
        """Titles of the system that begin with `prefix` (case-sensitive)."""
        found = self._catalogue.all("SELECT title FROM codes WHERE system = ? AND substr(title, 1, ?) = ?",
                                    (system, len(prefix), prefix))
        return [r[0] for r in found]

    def titles(self, system: str) -> list[str]:
        return [r[0] for r in self._catalogue.all("SELECT title FROM codes WHERE system = ?", (system,))]

    def content(self, system: str, code: str) -> ContentEntry | None:
        row = self._catalogue.one("SELECT source, sections FROM content WHERE system = ? AND key = ?",
                                  (system, code_key(code)))
        if row is None:
            return None
        return ContentEntry(system, code, tuple(tuple(s) for s in json.loads(row[1])), row[0])

    def embed_text(self, row_id: int) -> str:
        row = self._catalogue.one("SELECT embed_text FROM codes WHERE id = ?", (row_id,))
        return str(row[0]) if row else ""

    def vector(self, system: str, row_id: int) -> np.ndarray | None:
        ids = self.ids.get(system)
        if ids is None:
            return None
        pos = int(np.searchsorted(ids, row_id))  # ids are written in ascending catalogue order
        if pos >= len(ids) or ids[pos] != row_id:
            return None
        return np.asarray(self.dense[system].reconstruct(pos), dtype=np.float32)

    # -- code keys ----------------------------------------------------------------------------------
    def keys_from(self, key: str, system: str | None, limit: int) -> list[KeyRow]:
        """Codes whose key starts with `key`, the shortest first, then in key order. Without a system: codes of the
        default scope, and a code of any system whose key is exactly `key` ('410.11' finds ICD-9-CM 410.11)."""
        sql = "SELECT id, key FROM codes WHERE key >= ? AND key < ?"
        args: list[Any] = [key, key + "\uffff"]
        if system:
            sql, args = sql + " AND system = ?", args + [system]
        elif self._scoped:
            sql += f" AND (system IN ({','.join('?' * len(self.scope))}) OR key = ?)"
            args += [*self.scope, key]
        return [KeyRow(int(r[0]), r[1]) for r in self._catalogue.all(sql + " ORDER BY length(key), key LIMIT ?",
                                                                      args + [limit])]

    def count_prefixed(self, system: str, prefixes: Sequence[str], cap: int) -> int:
        """How many codes of the system start with any of the key prefixes, counting at most `cap`."""
        where = " OR ".join("(key >= ? AND key < ?)" for _ in prefixes)
        args = [v for p in prefixes for v in (p, p + "\uffff")]
        row = self._catalogue.one(f"SELECT count(*) FROM (SELECT 1 FROM codes WHERE system = ? AND ({where}) LIMIT ?)",
                                  [system, *args, cap])
        return int(row[0]) if row else 0

    # -- lexical ------------------------------------------------------------------------------------
    def vocabulary(self) -> dict[str, int]:
        return {w: int(f) for w, f in self._catalogue.all("SELECT word, freq FROM vocabulary")}

    def term_documents(self) -> tuple[dict[str, int], dict[str, int]]:
        """Documents the lexical table matches a word in (every column, claim text too): by stored term, as the
        tokenizer stores it ('fx', 'fractur'), and by vocabulary word through its stem ('fractures' -> 'fractur'),
        stemmed by SQLite's own tokenizer in a temporary table."""
        with self._catalogue.connection() as conn:
            for sql in ("CREATE VIRTUAL TABLE IF NOT EXISTS temp.lexical_terms USING fts5vocab(main, lexical, row)",
                        f"CREATE VIRTUAL TABLE IF NOT EXISTS temp.stems USING fts5(word, tokenize = {fmt.TOKENIZE}, "
                        "detail = column)",
                        "CREATE VIRTUAL TABLE IF NOT EXISTS temp.stem_terms USING fts5vocab(temp, stems, instance)",
                        "DELETE FROM temp.stems"):
                conn.execute(sql)
            counts = {str(t): int(n) for t, n in conn.execute("SELECT term, doc FROM temp.lexical_terms")}
            words = [str(w) for (w,) in conn.execute("SELECT word FROM vocabulary")]
            conn.executemany("INSERT INTO temp.stems(rowid, word) VALUES (?, ?)", enumerate(words))
            stems = conn.execute("SELECT doc, term FROM temp.stem_terms").fetchall()
            conn.execute("DELETE FROM temp.stems")
        return counts, {words[doc]: counts.get(stem, 0) for doc, stem in stems}

    def abbreviations(self) -> dict[str, str]:
        """Claim abbreviation -> the title word it stands for, as mined when the index was built."""
        return {w: e for w, e in self._catalogue.all("SELECT word, expansion FROM abbreviations")}

    def lexical_matches(self, expression: str) -> bool:
        """True when some document of the default scope matches the FTS5 expression."""
        if not self._scoped:
            return self._catalogue.one("SELECT 1 FROM lexical WHERE lexical MATCH ? LIMIT 1", (expression,)) is not None
        sql = (f"SELECT 1 FROM lexical JOIN codes c ON c.id = lexical.rowid WHERE lexical MATCH ? AND c.system IN "
               f"({','.join('?' * len(self.scope))}) LIMIT 1")
        return self._catalogue.one(sql, (expression, *self.scope)) is not None

    def lexical_texts(self, ids: Sequence[int]) -> dict[int, str]:
        """Every lexical column of the rows, joined: what a lexical match could have matched."""
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        found = self._catalogue.all(f"SELECT rowid, title, terms, context, claim FROM lexical WHERE rowid IN ({marks})",
                                    list(ids))
        return {int(r[0]): " | ".join(r[1:]) for r in found}

    def lexical(self, expression: str, system: str | None, limit: int) -> list[int]:
        """Row ids matching the FTS5 expression, best BM25 first, in one system or in the default scope."""
        systems = [system] if system else list(self.scope) if self._scoped else []
        where = f" AND c.system IN ({','.join('?' * len(systems))})" if systems else ""
        weights = ", ".join(str(w) for w in BM25_WEIGHTS)
        sql = (f"SELECT c.id FROM lexical JOIN codes c ON c.id = lexical.rowid WHERE lexical MATCH ?{where} "
               f"ORDER BY bm25(lexical, {weights}) LIMIT ?")
        return [int(r[0]) for r in self._catalogue.all(sql, [expression, *systems, limit])]

    # -- groupings ----------------------------------------------------------------------------------
    def grouping_tables(self, schemes: Sequence[str], path: Path | None = None) -> GroupingTables | None:
        """groupings.sqlite of this index (or another file at `path`, for measurements), read whole."""
        pool = _Pool(path, size=1) if path is not None else self._groupings
        if pool is None:
            return None
        out: dict[str, list[tuple[str, str, str]]] = {s: [] for s in schemes}
        for system, key, scheme, grp in pool.all("SELECT system, key, scheme, grp FROM groups"):
            out.setdefault(scheme, []).append((system, key, f"{system}:{grp}"))
        out["gem"] = [(s, k, f"{s}:{i}") for s, k, i in pool.all("SELECT DISTINCT system, key, icd9 FROM gems")]
        labels: dict[str, dict[str, str]] = {}
        for system, scheme, grp, label in pool.all("SELECT system, scheme, grp, label FROM labels"):
            labels.setdefault(scheme, {})[f"{system}:{grp}"] = label
        families = [(r[0], r[1], r[2], r[3], r[4])
                    for r in pool.all("SELECT system, key, stem, side, detail FROM families ORDER BY rowid")]
        return GroupingTables(out, labels, families)

    def gems_of_icd9(self, system: str, icd9_codes: Sequence[str], direction: str) -> list[tuple[str, GemRow]]:
        """GEM rows of ICD-9-CM codes (any of the dotted forms given) into one ICD-10 system: (ICD-10 key, row)."""
        if self._groupings is None or not icd9_codes:
            return []
        marks = ",".join("?" * len(icd9_codes))
        found = self._groupings.all(f"SELECT key, icd9, title, direction, approximate, combination FROM gems "
                                    f"WHERE icd9 IN ({marks}) AND system = ? AND direction = ? ORDER BY key",
                                    (*icd9_codes, system, direction))
        return [(r[0], GemRow(r[1], r[2], r[3], bool(r[4]), bool(r[5]))) for r in found]

    def groups_of(self, system: str, key: str, scheme: str) -> list[tuple[str, str]]:
        """(group, label) of one code in a grouping scheme (ccs, ccsr, ...)."""
        if self._groupings is None:
            return []
        found = self._groupings.all("SELECT g.grp, COALESCE(l.label, '') FROM groups g LEFT JOIN labels l ON "
                                    "l.system = g.system AND l.scheme = g.scheme AND l.grp = g.grp "
                                    "WHERE g.system = ? AND g.key = ? AND g.scheme = ? ORDER BY g.grp",
                                    (system, key, scheme))
        return [(str(r[0]), str(r[1])) for r in found]

    def group_members(self, system: str, scheme: str, group: str, limit: int) -> list[str]:
        """Keys of the codes in one group of a scheme, in key order, at most `limit`."""
        if self._groupings is None:
            return []
        found = self._groupings.all("SELECT key FROM groups WHERE system = ? AND scheme = ? AND grp = ? ORDER BY key "
                                    "LIMIT ?", (system, scheme, group, limit))
        return [str(r[0]) for r in found]

    def gems(self, system: str, key: str) -> list[GemRow]:
        """GEM rows of one code, by ICD-9-CM code and direction."""
        if self._groupings is None:
            return []
        found = self._groupings.all("SELECT icd9, title, direction, approximate, combination FROM gems "
                                    "WHERE system = ? AND key = ? ORDER BY icd9, direction", (system, key))
        return [GemRow(r[0], r[1], r[2], bool(r[3]), bool(r[4])) for r in found]
