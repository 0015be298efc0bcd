"""A query that lists codes ('E11.9, I10', 'e119 i10 z794' pasted from a claim): each code, in the order typed."""
from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING

from embeddings.records import code_key
from service.search import query as q

if TYPE_CHECKING:
    from service.search.engine import SearchEngine, SearchResult

SEPARATORS = re.compile(r"[\s,;|]+")
MAX_CODES = 50  # a claim carries at most 25 diagnoses and 25 procedures


def listed_keys(text: str) -> tuple[str, ...]:
    """The code keys of a text made of two or more code-shaped parts and nothing else; () for any other text."""
    parts = [p for p in SEPARATORS.split(text.strip()) if p]
    if not 2 <= len(parts) <= MAX_CODES or not all(q.looks_like_code(p) for p in parts):
        return ()
    return tuple(dict.fromkeys(code_key(p) for p in parts))


def codes_listed(engine: SearchEngine, text: str, system: str | None) -> list[int] | None:
    """The ids of the codes the text lists, in its order, or None unless every part is a code of a loaded system
    ('l4 l5' names vertebrae, not codes, and is searched as words)."""
    ids: list[int] = []
    for key in listed_keys(text):
        exact = [c.id for c in engine.codes.search(key, system, 8) if c.exact]
        if not exact:
            return None
        ids += exact
    return ids or None


def listed_result(engine: SearchEngine, text: str, ids: list[int], billable: bool | None, chapter: str | None,
           limit: int, offset: int, mode: str, started: float) -> SearchResult:
    """Each listed code as an exact match, after the billable and chapter filters, one page of them."""
    from service.search.engine import SearchResult

    store = engine.store
    kept = [i for i in ids if (billable is None or store.billable[i] == billable)
            and (not chapter or store.chapter[i] == chapter)]
    page = kept[offset:offset + limit]
    rows = store.rows(page)
    hits = tuple(engine.hit(rows[i], 1.0, ["code"], ()) for i in page if i in rows)
    return SearchResult(text, hits, len(kept), round((time.perf_counter() - started) * 1000, 2), mode,
                        warming=engine.warming)
