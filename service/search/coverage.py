"""Coverage re-ranking: among the top candidates, a title that says what the query says, and little else, goes
first ('Sprain of interphalangeal joint of left thumb, subs' -> the sprain, not the subluxation beside it)."""
from __future__ import annotations

import re

from embeddings.index.store import IndexStore
from service.search import query as q
from service.search.fusion import Fusion

RERANK_DEPTH = 40  # candidates looked at
WEIGHT = 1.0  # a title covering the query fully, with nothing more, doubles its fused score
_WORD = re.compile(r"[a-z0-9]+")
DEFAULT_WORDS = frozenset({"unspecified", "other", "specified", "site", "nos"})
HEADINGS = frozenset({"chapter", "block", "section", "body_system"})  # groupings, never a code to submit

Slots = tuple[tuple[tuple[str, ...], ...], ...]


def coverage(title: str, slots: Slots) -> float:
    """(share of query slots the title satisfies) x (share of the title's content words the query accounts for)."""
    held, said = shares(title, slots)
    return held * said


def shares(title: str, slots: Slots) -> tuple[float, float]:
    """(share of query slots the title satisfies, share of the title's content words the query accounts for)."""
    words = [w for w in _WORD.findall(title.lower()) if w not in q.STOPWORDS]
    if not words or not slots:
        return 0.0, 0.0
    asked = q.asked(slots)
    # 'unspecified', 'other' ... count when the query says them; unsaid, they mark the default code, not a miss.
    words = [w for w in words if w not in DEFAULT_WORDS or w in asked.words] or words
    found_by = [asked[w] for w in words]  # for each title word, the query words it is a form of
    found = set().union(*found_by)  # the query words the title holds a form of
    said: set[str] = set()
    held = 0
    for slot in slots:
        for alternative in slot:
            if alternative and found.issuperset(alternative):
                held += 1
                said.update(alternative)
                break
    return held / len(slots), sum(1 for query_words in found_by if not said.isdisjoint(query_words)) / len(words)


def rerank(ranked: list[int], fusion: Fusion, store: IndexStore, slots: Slots) -> list[int]:
    head = ranked[:RERANK_DEPTH]
    rows = store.rows(head)
    for i in head:
        if i in rows and rows[i].kind not in HEADINGS:
            fusion.scores[i] *= 1.0 + WEIGHT * coverage(rows[i].title, slots)
    return sorted(head, key=lambda i: -fusion.scores[i]) + ranked[RERANK_DEPTH:]
