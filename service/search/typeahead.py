"""Typeahead: codes by prefix, the codes a lay or abbreviation term names, then titles whose words start as typed."""
from __future__ import annotations

from typing import TYPE_CHECKING, Mapping

from embeddings.index.rows import CodeRow
from service.search import query as q
from service.search import understanding as qu
from service.search.fusion import Candidate

if TYPE_CHECKING:
    from service.search.engine import Hit, SearchEngine

TABLE_TERMS = frozenset({"expand"})  # only the table is read: no spelling, parts or claim words while typing
WHY = {"lexical": "words"}


def suggest(engine: SearchEngine, text: str, system: str | None, limit: int) -> list[Hit]:
    """A code-shaped text finds codes by prefix. Words that are, or end in the start of, a table term find the codes
    the term names first ('heart att' -> acute myocardial infarction, 'copd'), since no title says them; then codes
    whose own words start as typed, the last word as a prefix unless a space follows it."""
    parsed = q.parse(text, engine.settings.max_query_chars)
    system = engine.check_system(system)
    engine.check_paging(limit)
    typing = not text.endswith(" ")
    found: list[Candidate] = engine.codes.search(parsed.code, system, limit) if parsed.code else []
    named: tuple[qu.Expansion, ...] = ()
    by_term: set[int] = set()
    rows: dict[int, CodeRow] = {}
    if len(found) < limit and parsed.words:
        u = engine.understanding.understand(parsed.text, system, TABLE_TERMS, partial_last=typing)
        if named := ends_in_term(parsed.text, u, engine.understanding.table):
            termed = _new(engine.words.search_slots(u.slots, system, limit), found)
            rows = engine.store.rows([c.id for c in termed])  # read once: to order them here and for their hits
            termed = _closest(termed, rows, named)
            by_term = {c.id for c in termed}
            found += termed
    if len(found) < limit and parsed.words:
        found += _new(engine.words.search(parsed.words, system, limit * 2, typing), found)
    chosen = found[:limit]
    if unread := [c.id for c in chosen if c.id not in rows]:
        rows |= engine.store.rows(unread)
    return [engine.hit(rows[c.id], 0.0, [f"expanded {e}" for e in named] if c.id in by_term
                       else [WHY.get(c.reason, c.reason)], parsed.words) for c in chosen if c.id in rows]


def ends_in_term(text: str, u: qu.Understood, table: Mapping[tuple[str, ...], object]) -> tuple[qu.Expansion, ...]:
    """The table terms read from the text that end at its last word: the whole of what is being typed is the term
    ('heart att', 'copd'). A term earlier in the text with other words after it ('broken ar') says too little, and so
    does one word completed to a term ('pneum' may become pneumonia as well as the table's pneumonectomy)."""
    said = q.tokens(text)
    return tuple(e for e in u.expansions if (term := q.tokens(e.term)) and said[-len(term):] == term
                 and (len(term) > 1 or tuple(term) in table))


def _closest(found: list[Candidate], rows: Mapping[int, CodeRow],
             named: tuple[qu.Expansion, ...]) -> list[Candidate]:
    """The codes whose titles the term's words fill most first ('Acute myocardial infarction' before 'Acute coronary
    thrombosis not resulting in myocardial infarction'), then in BM25 order."""
    said = {w for e in named for w in q.tokens(e.expansion)}

    def share(c: Candidate) -> float:
        title = [w for w in q.tokens(rows[c.id].title) if w not in q.STOPWORDS] if c.id in rows else []
        return sum(w in said for w in title) / len(title) if title else 0.0
    return sorted(found, key=lambda c: -share(c))


def _new(candidates: list[Candidate], found: list[Candidate]) -> list[Candidate]:
    seen = {c.id for c in found}
    return [c for c in candidates if c.id not in seen]
