"""Roll-down: a category or subcategory near the top brings its best codable (billable) descendant with it."""
from __future__ import annotations

from embeddings.index.store import IndexStore
from embeddings.records import display_code
from service.search.fusion import Fusion

ROLL_DEPTH = 10  # non-billable candidates among the top this many are rolled down
# A query of at least this many content words describes one condition closely enough that the codable code,
# not the heading it sits under, is what the coder wants first.
SPECIFIC_WORDS = 3


def roll_down(ranked: list[int], fusion: Fusion, store: IndexStore, specific: bool) -> list[int]:
    """Each non-billable candidate in the top ROLL_DEPTH gets its best-scoring billable descendant among the
    candidates placed next to it: after it, or before it when the query is specific."""
    order = list(ranked)
    done: set[int] = set()
    for parent in ranked[:ROLL_DEPTH]:
        if store.billable[parent] or parent in done:
            continue
        child = best_descendant(parent, order, fusion, store)
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


def best_descendant(parent: int, candidates: list[int], fusion: Fusion, store: IndexStore) -> int | None:
    key, system = store.key_of[parent], store.system_of[parent]
    found = [i for i in candidates if i != parent and store.billable[i] and store.system_of[i] == system
             and store.key_of[i].startswith(key)]
    return max(found, key=lambda i: fusion.scores[i]) if found else None
