"""Roll-down: a category or subcategory near the top brings its best codable (billable) descendant with it."""
from __future__ import annotations

import re

from embeddings.index.store import IndexStore
from embeddings.records import display_code
from service.search import query as q
from service.search.fusion import Fusion

ROLL_DEPTH = 10  # non-billable candidates among the top this many are rolled down
# A query of at least this many content words describes one condition closely enough that the codable code,
# not the heading it sits under, is what the coder wants first.
SPECIFIC_WORDS = 3
LOOK = 30  # the best-scoring descendants whose titles are read for a default one
_WITH = re.compile(r"\bwith\b([^,]*)")
_PARTS = re.compile(r"[,;]")
SIDES = frozenset({"right", "left", "bilateral"})


def roll_down(ranked: list[int], fusion: Fusion, store: IndexStore, specific: bool,
              said: frozenset[str] | None = None) -> list[int]:
    """Each non-billable candidate in the top ROLL_DEPTH gets its best-scoring billable descendant among the
    candidates placed next to it: after it, or before it when the query is specific. With the query's words
    (`said`, their stems), the best one that adds nothing unsaid by 'with' is taken when there is one."""
    order = list(ranked)
    done: set[int] = set()
    for parent in ranked[:ROLL_DEPTH]:
        if store.billable[parent] or parent in done:
            continue
        child = best_descendant(parent, order, fusion, store, said)
        if child is None:
            continue
        done.add(child)
        at = order.index(parent)
        if order.index(child) < at:
            continue  # already above its heading
        order.remove(child)
        order.insert(at if specific else at + 1, child)
        fusion.reasons[child].append(f"codable code under {display_code(store.system_of[parent], store.key_of[parent])}")
    return order


def best_descendant(parent: int, candidates: list[int], fusion: Fusion, store: IndexStore,
                    said: frozenset[str] | None = None) -> int | None:
    key, system = store.key_of[parent], store.system_of[parent]
    found = sorted((i for i in candidates if i != parent and store.billable[i] and store.system_of[i] == system
                    and store.key_of[i].startswith(key)), key=lambda i: -fusion.scores[i])
    if not found or said is None or system.endswith("pcs"):  # a PCS 'with' names a device, not a complication
        return found[0] if found else None
    rows = store.rows(found[:LOOK] + [parent])
    # The code without the complication the query does not name is the default one: 'pancreatitis' is acute
    # pancreatitis without necrosis or infection, not the one with infected necrosis that scored higher. Of those,
    # the one that only says its heading unspecified is the default ('Schizophrenia, unspecified', not 'Paranoid
    # schizophrenia', for 'schizophrenia').
    fitting = [i for i in found[:LOOK] if i in rows and not adds_unsaid(rows[i].title, said)]
    heading = rows[parent].title if parent in rows else ""
    return next((i for i in fitting if says_default(heading, rows[i].title, said)), fitting[0] if fitting else found[0])


def says_default(heading: str, title: str, said: frozenset[str] = frozenset()) -> bool:
    """True when a title adds to its heading's words only what a default code says: words from 'without' or
    'unspecified' on in a part of the title (naming no side), and NOS ('Gastric ulcer, unspecified as acute or
    chronic, without hemorrhage or perforation' under 'Gastric ulcer'; 'Unspecified hearing loss, unspecified ear';
    'Pressure ulcer of unspecified site, unspecified stage' under 'Pressure ulcer'). A clause naming what the query
    says (`said`, their stems) is no default: 'without necrosis' when the query says necrosis."""
    known = {q.stem(w) for w in q.tokens(heading)} | {q.stem("unspecified"), "nos"}
    for part in _PARTS.split(title.lower()):
        words = [w for w in q.tokens(part) if w not in q.STOPWORDS]
        new = {w for w in words if q.stem(w) not in known}
        unsaid = set()
        for mark in ("unspecified", "without"):  # what follows them leaves a detail unsaid or a complication out
            clause = words[words.index(mark):] if mark in words else []
            if not any(q.stem(w) in said for w in clause[1:]):
                unsaid |= set(clause)
        if new & SIDES or not new <= unsaid:
            return False
    return True


def adds_unsaid(title: str, said: frozenset[str]) -> bool:
    """True when the title joins by 'with' a word the query does not say ('Acute gastric ulcer with hemorrhage')."""
    return any(q.stem(w) not in said for clause in _WITH.findall(title.lower()) for w in q.tokens(clause)
               if w not in q.STOPWORDS)
