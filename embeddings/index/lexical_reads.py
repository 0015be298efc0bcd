"""The lexical table's reads (FTS5 BM25, claim text, vocabulary and mined abbreviations) of a built index."""
from __future__ import annotations

from typing import Sequence

from embeddings.index import format as fmt
from embeddings.index.pool import Pool

# BM25 column weights of the lexical table: a word in the title counts most, then synonyms, then the short
# description (claim text), then context (hierarchy, axis labels, inherited synonyms).
BM25_WEIGHTS = (10.0, 4.0, 1.0, 2.0)
LEXICAL_COLUMNS = ("title", "terms", "context", "claim")  # the lexical table's columns, in order


class LexicalReads:
    """Mixed into IndexStore: the reads of the lexical table, over its catalogue connections and search scope."""

    _catalogue: Pool
    scope: tuple[str, ...]
    _scoped: bool

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

    def lexical_count(self, expression: str, cap: int) -> int:
        """Documents (of every system) matching the FTS5 expression, counted up to `cap`."""
        found = self._catalogue.one("SELECT count(*) FROM (SELECT 1 FROM lexical WHERE lexical MATCH ? LIMIT ?)",
                                    (expression, cap))
        return int(found[0]) if found else 0

    def lexical_texts(self, ids: Sequence[int], columns: Sequence[str] = LEXICAL_COLUMNS) -> dict[int, str]:
        """The lexical columns of the rows (all of them unless named), joined: what a lexical match could match."""
        if not ids:
            return {}
        unknown = set(columns) - set(LEXICAL_COLUMNS)
        if unknown or not columns:
            raise ValueError(f"lexical columns are {LEXICAL_COLUMNS}, not {sorted(unknown)}")
        marks = ",".join("?" * len(ids))
        found = self._catalogue.all(f"SELECT rowid, {', '.join(columns)} FROM lexical WHERE rowid IN ({marks})",
                                    list(ids))
        return {int(r[0]): " | ".join(r[1:]) for r in found}

    def official_names(self, ids: Sequence[int], title: bool = True) -> dict[int, list[str]]:
        """Each row's official names: its title (unless `title` is False), then its own synonyms and the phrases
        other codes' notes name it by (see `documents.names_whole`); never generated wording, which the `terms`
        column also holds."""
        found: dict[int, list[str]] = {int(i): [str(t)] for i, t in self._catalogue.all(
            f"SELECT id, title FROM codes WHERE id IN ({','.join('?' * len(ids))})", list(ids))} \
            if ids and title else {}
        for i, names in self._listed_names(ids, official=True).items():
            found.setdefault(i, []).extend(names)
        return found

    def generated_names(self, ids: Sequence[int]) -> dict[int, list[str]]:
        """Each row's generated names: near codes' synonyms reworded for it (`embeddings.analogies`)."""
        return self._listed_names(ids, official=False)

    def _listed_names(self, ids: Sequence[int], official: bool) -> dict[int, list[str]]:
        """The names table's official synonyms or generated names of the rows, in the order the build wrote them."""
        found: dict[int, list[str]] = {}
        if ids:
            sql = f"SELECT id, name FROM names WHERE official = ? AND id IN ({','.join('?' * len(ids))}) ORDER BY rowid"
            for i, name in self._catalogue.all(sql, [int(official), *ids]):
                found.setdefault(int(i), []).append(str(name))
        return found

    def claims(self, expression: str, system: str | None, limit: int) -> list[tuple[int, str]]:
        """(row id, claim text) of rows whose claim text matches the FTS5 expression, shortest claim first."""
        systems, where = self._systems_clause(system)
        sql = (f"SELECT c.id, lexical.claim FROM lexical JOIN codes c ON c.id = lexical.rowid WHERE lexical MATCH ?"
               f"{where} ORDER BY length(lexical.claim) LIMIT ?")
        return [(int(r[0]), str(r[1])) for r in self._catalogue.all(sql, [expression, *systems, limit])]

    def lexical(self, expression: str, system: str | None, limit: int) -> list[int]:
        """Row ids matching the FTS5 expression, best BM25 first, in one system or in the default scope."""
        systems, where = self._systems_clause(system)
        weights = ", ".join(str(w) for w in BM25_WEIGHTS)
        sql = (f"SELECT c.id FROM lexical JOIN codes c ON c.id = lexical.rowid WHERE lexical MATCH ?{where} "
               f"ORDER BY bm25(lexical, {weights}) LIMIT ?")
        return [int(r[0]) for r in self._catalogue.all(sql, [expression, *systems, limit])]

    def _systems_clause(self, system: str | None) -> tuple[list[str], str]:
        """The systems a read is limited to (one asked for, else the default scope) and its SQL condition."""
        systems = [system] if system else list(self.scope) if self._scoped else []
        return systems, f" AND c.system IN ({','.join('?' * len(systems))})" if systems else ""
