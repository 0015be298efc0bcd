"""Exact names: a code whose title or official synonym says just what the query says ('memory loss' is R41.3's
'Memory loss NOS') goes before the codes that only share its words."""
from __future__ import annotations

import re

from embeddings.index.store import IndexStore
from service.search import query as q
from service.search.fusion import EXACT_CODE_BOOST, Fusion
from service.search.terms import table_key

DEPTH = 40  # candidates looked at
MAX_WORDS = 8  # a longer query is a description, not a name
WHY = "official name"
# Coders read words in parentheses or brackets as nonessential modifiers, and NOS ('not otherwise specified')
# marks the name as the default; neither is part of what a name says.
_NONESSENTIAL = re.compile(r"\([^)]*\)|\[[^\]]*\]")
_UNSAID = q.STOPWORDS | {"nos"}


def name_key(text: str, official: bool = True) -> tuple[str, ...]:
    """A name as compared: NOS and function words dropped, each word singular, and in official text the modifiers
    in parentheses (a query's words in parentheses are still what it asks for)."""
    return table_key(w for w in q.tokens(_NONESSENTIAL.sub(" ", text) if official else text) if w not in _UNSAID)


def named_first(ranked: list[int], query: str, fusion: Fusion, store: IndexStore) -> list[int]:
    """The top DEPTH with the codable codes named exactly as the query first, each group in its order so far. A
    category of that name is left where it is: the name, NOS or not, is its default code's ('Hypersomnia NOS')."""
    key = name_key(query, official=False)
    if not key or len(key) > MAX_WORDS:
        return ranked
    head = ranked[:DEPTH]
    if any(fusion.scores[i] >= EXACT_CODE_BOOST for i in head):
        return ranked  # claim text equal to a code's is already pinned first
    texts = store.lexical_texts([i for i in head if store.billable[i]], ("title", "terms"))
    named = [i for i in head if any(name_key(name) == key for name in texts.get(i, "").split(" | "))]
    if not named:
        return ranked
    top = max(fusion.scores[i] for i in head)
    for n, i in enumerate(named):  # above every other candidate, in the order they had
        fusion.scores[i] = top * 1.01 + (len(named) - n) * 1e-6
        fusion.reasons[i].append(WHY)
    chosen = set(named)
    return named + [i for i in head if i not in chosen] + ranked[DEPTH:]
