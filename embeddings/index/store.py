"""Every read of a built index (catalogue, groupings, vectors) as named rows; writer.py holds the writes."""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any, Sequence

import faiss
import numpy as np

from embeddings.codesets.content import ContentEntry
from embeddings.files import DigestMemo
from embeddings.index import format as fmt
from embeddings.index.dense import read_dense
from embeddings.index.lexical_reads import LexicalReads
from embeddings.index.pool import Pool
from embeddings.index.rows import CodeRow, GemRow, GroupingTables, HierarchyRow, KeyRow, code_row
from embeddings.index.term_vectors import TermVectors
from embeddings.records import INACTIVE, Code, code_key

ROW_COLUMNS = "id, system, code, title, billable, kind, chapter, parent"


class IndexStore(LexicalReads):
    """One built index, opened once per process and never written; safe to share between threads."""

    def __init__(self, directory: Path, verify_checksums: bool = True, ef_search: int = 128,
                 memo_dir: Path | None = None):
        """`memo_dir`: where digests of files already verified on this machine are kept (the cache folder)."""
        # Resolve the symlink once: a rebuild swapping the link later cannot mix files of two builds.
        self.directory = Path(directory).resolve()
        self.manifest = fmt.read_manifest(self.directory)
        memo = DigestMemo(memo_dir)
        fmt.verify_files(self.directory, self.manifest, checksums=verify_checksums, memo=memo)
        memo.save()
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
        self.term_vectors = TermVectors.read(self.directory)
        self._catalogue = Pool(self.directory / fmt.CATALOGUE)
        groupings = self.directory / fmt.GROUPINGS
        self.groupings_path: Path | None = groupings if groupings.exists() else None
        self._groupings = Pool(groupings, size=2) if self.groupings_path else None
        rows = self._catalogue.all("SELECT billable, chapter, system, key, kind FROM codes ORDER BY id")
        self.billable = np.fromiter((r[0] for r in rows), dtype=bool, count=len(rows))
        self.inactive = np.fromiter((r[4] == INACTIVE for r in rows), dtype=bool, count=len(rows))
        self.chapter = np.array([r[1] for r in rows], dtype=object)
        self.system_of = np.array([r[2] for r in rows], dtype=object)
        self.key_of = np.array([r[3] for r in rows], dtype=object)
        # Codes that are not codable themselves (S52.542, O36.593): their codable children add a 7th character.
        self.stems: frozenset[tuple[str, str]] = frozenset((r[2], r[3]) for r in rows if r[4] == "code" and not r[0])

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

    def first_title_words(self, system: str, kind: str | None = None) -> set[str]:
        """The distinct first words of the system's titles, or of one kind of row's (PCS tables: their root
        operations, 'Excision', 'Insertion'), without the comma that may follow."""
        found = self._catalogue.all("SELECT DISTINCT substr(title, 1, instr(title || ' ', ' ') - 1) FROM codes "
                                    "WHERE system = ? AND kind = coalesce(?, kind)", (system, kind))
        return {str(r[0]).rstrip(",") for r in found}

    def titles(self, system: str) -> list[str]:
        return [r[0] for r in self._catalogue.all("SELECT title FROM codes WHERE system = ?", (system,))]

    def content(self, system: str, code: str) -> ContentEntry | None:
        row = self._catalogue.one("SELECT source, sections FROM content WHERE system = ? AND key = ?",
                                  (system, code_key(code)))
        if row is None:
            return None
        return ContentEntry(system, code, tuple(tuple(s) for s in json.loads(row[1])), row[0])

    def condition_words(self, min_titles: int) -> frozenset[str]:
        """Words that begin at least `min_titles` ICD-10-CM titles and no ICD-10-PCS text uses (see
        `writer.condition_words`); none from an index built before the table existed."""
        try:
            found = self._catalogue.all("SELECT word FROM conditions WHERE titles >= ?", (min_titles,))
        except sqlite3.OperationalError:
            return frozenset()
        return frozenset(str(r[0]) for r in found)

    def mentions(self, system: str, code: str) -> list[tuple[str, str, str]]:
        """(source code, note kind, phrase) of the other codes' notes that name this code, in tabular order; none
        from an index built before the table existed."""
        try:
            found = self._catalogue.all("SELECT source, kind, text FROM mentions WHERE system = ? AND key = ? "
                                        "ORDER BY rowid", (system, code_key(code)))
        except sqlite3.OperationalError:
            return []
        return [(str(s), str(k), str(t)) for s, k, t in found]

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

    # -- groupings ----------------------------------------------------------------------------------
    def grouping_tables(self, schemes: Sequence[str], path: Path | None = None) -> GroupingTables | None:
        """groupings.sqlite of this index (or another file at `path`, for measurements), read whole."""
        pool = Pool(path, size=1) if path is not None else self._groupings
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
