"""Queries made of codes: a list ('E11.9, I10' pasted from a claim) finds each code in the order typed; a code of a
system that is not loaded (CPT '99213') gets a hint on how to load it; one of common words only, a hint too."""
from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING, Collection

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


# What a query shaped like a code of a licensed or user-supplied system looks like: CPT (five digits, or four and
# F, T or U) and HCPCS Level II (a letter and four digits).
_NOT_SHIPPED = (("cpt", re.compile(r"^[0-9]{4}[0-9FTU]$", re.I), "CPT codes are not loaded: the AMA licenses CPT, so "
                 "medcodes ships none; load your licensed file with `medcodes build --custom cpt=FILE.csv`"),
                ("hcpcs", re.compile(r"^[A-V][0-9]{4}$", re.I), "HCPCS Level II codes are not loaded: load the CMS "
                 "HCPCS file with `medcodes build --custom hcpcs=FILE.csv`"))


def only_common_words(text: str) -> bool:
    """True for a text whose words are all ones the index ignores ('the and of'): nothing to search for."""
    words = q.tokens(text)
    return bool(words) and all(w in q.STOPWORDS for w in words)


def missing_system_hint(systems: Collection[str], result: SearchResult) -> str | None:
    """For a search that found nothing and is shaped like a code of a system that is not loaded, or says only
    common words, what to do."""
    if result.total:
        return None
    if only_common_words(result.query):
        return "the query has only common words, which every code shares: say what you are looking for, or a code"
    return next((hint for name, shape, hint in _NOT_SHIPPED if name not in systems and shape.match(result.query)),
                None)
