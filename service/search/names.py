"""Exact names: a code whose title or official synonym says just what the query says ('memory loss' is R41.3's
'Memory loss NOS') goes before the codes that only share its words."""
from __future__ import annotations

import re

from embeddings.index.store import IndexStore
from embeddings.records import display_code
from service.search import query as q
from service.search.fusion import EXACT_CODE_BOOST, Fusion
from service.search.rolldown import best_descendant
from service.search.terms import table_key

DEPTH = 40  # candidates looked at
MAX_WORDS = 8  # a longer query is a description, not a name
CATEGORIES = frozenset({"category", "subcategory", "code"})  # not chapters or blocks: a heading is never coded
WHY = "official name"
# Coders read words in parentheses or brackets as nonessential modifiers, and NOS ('not otherwise specified')
# marks the name as the default; neither is part of what a name says.
_NONESSENTIAL = re.compile(r"\([^)]*\)|\[[^\]]*\]")
_UNSAID = q.STOPWORDS | {"nos"}


def name_key(text: str, official: bool = True) -> tuple[str, ...]:
    """A name as compared: NOS and function words dropped, each word singular, and in official text the modifiers
    in parentheses (a query's words in parentheses are still what it asks for)."""
    text = _NONESSENTIAL.sub(" ", text) if official else text
    return table_key(w for w in q.tokens(text.replace("'", "").replace("\u2019", "")) if w not in _UNSAID)


def named_first(ranked: list[int], query: str, fusion: Fusion, store: IndexStore,
                said: frozenset[str] | None = None) -> list[int]:
    """The top DEPTH with the codes named exactly as the query first, each in its order so far. An ICD-10-CM
    category of that name comes after its default codable code ('Lymphoma NOS' is C85.9's: C85.90 goes first),
    the best descendant among the candidates that adds nothing unsaid (`said`, see rolldown)."""
    key = name_key(query, official=False)
    if not key or len(key) > MAX_WORDS:
        return ranked
    head = ranked[:DEPTH]
    if any(fusion.scores[i] >= EXACT_CODE_BOOST for i in head):
        return ranked  # claim text equal to a code's is already pinned first
    texts = store.lexical_texts(head, ("title", "terms"))
    named = [i for i in head if any(name_key(name) == key for name in texts.get(i, "").split(" | "))]
    rows = store.rows([i for i in named if not store.billable[i]])
    first: dict[int, str] = {}  # id -> why
    for i in named:
        if store.billable[i]:
            first.setdefault(i, WHY)
        elif i in rows and rows[i].kind in CATEGORIES and store.system_of[i] == "icd10cm":
            child = best_descendant(i, ranked, fusion, store, said)
            if child is not None:
                first.setdefault(child, f"codable code under {display_code(store.system_of[i], store.key_of[i])}")
                first.setdefault(i, WHY)
    if not first:
        return ranked
    top = max(fusion.scores[i] for i in head)
    for n, (i, why) in enumerate(first.items()):  # above every other candidate, in the order they had
        fusion.scores[i] = top * 1.01 + (len(first) - n) * 1e-6
        fusion.reasons[i].append(why)
    return list(first) + [i for i in ranked if i not in first]
