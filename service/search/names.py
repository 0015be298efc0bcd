"""Exact names: a code whose title or official synonym says just what the query says ('memory loss' is R41.3's
'Memory loss NOS') goes before the codes that only share its words."""
from __future__ import annotations

import re
from typing import Iterable

from embeddings.index.store import IndexStore
from embeddings.records import display_code
from service.search import query as q
from service.search.fusion import EXACT_CODE_BOOST, Fusion
from service.search.rolldown import best_descendant
from service.search.terms import table_key
from service.search.understanding import Expansion

DEPTH = 40  # candidates looked at
MAX_WORDS = 8  # a longer query is a description, not a name
CATEGORIES = frozenset({"category", "subcategory", "code"})  # not chapters or blocks: a heading is never coded
WHY = "official name"
# A generated name (a near code's synonym reworded for this code, see embeddings.analogies) also names a code, after
# the official ones, and says it is generated.
WHY_MADE = "name made from a near code's synonym"
# Coders read words in parentheses or brackets as nonessential modifiers, and NOS ('not otherwise specified')
# marks the name as the default; neither is part of what a name says.
_NONESSENTIAL = re.compile(r"\([^)]*\)|\[[^\]]*\]")
_UNSAID = q.STOPWORDS | {"nos", "unspecified"}


def name_key(text: str, official: bool = True) -> tuple[str, ...]:
    """A name as compared: NOS and function words dropped, each word singular, and in official text the modifiers
    in parentheses (a query's words in parentheses are still what it asks for)."""
    text = _NONESSENTIAL.sub(" ", text) if official else text
    return table_key(w for w in q.tokens(text.replace("'", "").replace("\u2019", "")) if w not in _UNSAID)


def named_first(ranked: list[int], query: str, fusion: Fusion, store: IndexStore, said: frozenset[str] | None = None,
                spelt: Iterable[Expansion] = ()) -> list[int]:
    """The top DEPTH with the codes named exactly as the query first, each in its order so far, official names
    before generated ones. An ICD-10-CM category of that name comes after its default codable code ('Lymphoma
    NOS' is C85.9's: C85.90 goes first), the best descendant among the candidates that adds nothing unsaid (`said`,
    see rolldown). `spelt`: the query's table terms, each also read in place of its term ('colon cancer' names C18,
    'Malignant neoplasm of colon'). Word order is no part of a name, and a name the query says in its own words
    goes before one its terms spell out."""
    key_sets = [{_bag(query)}, {_bag(_spell(query, e.term, e.expansion)) for e in spelt}]
    key_sets = [{k for k in keys if 0 < len(k) <= MAX_WORDS} for keys in key_sets]
    if not any(key_sets):
        return ranked
    head = ranked[:DEPTH]
    tiers = [(store.official_names(head), WHY), (store.generated_names(head), WHY_MADE)]
    # A name's key is only worked out when the name holds the first letters of every word of some key (a word's
    # singular keeps its first three letters): most candidates' names are skipped at the cost of a substring test.
    starts = [{w[:3] for w in key} for keys in key_sets for key in keys]

    def bags_of(names: list[str]) -> set[tuple[str, ...]]:
        return {_bag(n, official=True) for n in names
                if not n.isascii() or any(all(w in n.lower() for w in first) for first in starts)}
    bags = [({i: bags_of(found.get(i, [])) for i in head}, why) for found, why in tiers]
    named: dict[int, str] = {}  # id -> why, the query's own words first, official names before generated ones
    for keys in key_sets:
        for tier, why in bags:
            for i in head:
                if tier[i] & keys:
                    named.setdefault(i, why)
    if any(fusion.scores[i] >= EXACT_CODE_BOOST and i not in named for i in head):
        return ranked  # claim text equal to another code's is already pinned first
    rows = store.rows([i for i in named if not store.billable[i]])
    first: dict[int, str] = {}  # id -> why
    for i, why in named.items():
        if store.billable[i]:
            first.setdefault(i, why)
        elif i in rows and rows[i].kind in CATEGORIES and store.system_of[i] == "icd10cm":
            child = best_descendant(i, ranked, fusion, store, said)
            if child is not None:
                first.setdefault(child, f"codable code under {display_code(store.system_of[i], store.key_of[i])}")
                first.setdefault(i, why)
    if not first:
        return ranked
    top = max(fusion.scores[i] for i in head)
    for n, (i, why) in enumerate(first.items()):  # above every other candidate, in the order they had
        fusion.scores[i] = top * 1.01 + (len(first) - n) * 1e-6
        fusion.reasons[i].append(why)
    return list(first) + [i for i in ranked if i not in first]


def _spell(query: str, term: str, expansion: str) -> str:
    """The query with a table term's words replaced by its expansion."""
    return re.sub(rf"\b{re.escape(term)}\b", expansion, query, flags=re.IGNORECASE)


def _bag(text: str, official: bool = False) -> tuple[str, ...]:
    """A name's words in a fixed order: word order is no part of a name ('colon cancer', 'cancer of the colon')."""
    return tuple(sorted(name_key(text, official)))
