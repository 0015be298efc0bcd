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
    asked = {w for slot in slots for alternative in slot for w in alternative}
    # 'unspecified', 'other' ... count when the query says them; unsaid, they mark the default code, not a miss.
    words = [w for w in words if w not in DEFAULT_WORDS or w in asked] or words
    forms = q.forms_of(frozenset(words))
    said: set[str] = set()
    held = 0
    for slot in slots:
        for alternative in slot:
            if alternative and all(forms.has(w) for w in alternative):
                held += 1
                said.update(alternative)
                break
    spoken = q.forms_of(frozenset(said))
    return held / len(slots), sum(1 for w in words if spoken.has(w)) / len(words)


def rerank(ranked: list[int], fusion: Fusion, store: IndexStore, slots: Slots) -> list[int]:
    head = ranked[:RERANK_DEPTH]
    rows = store.rows(head)
    for i in head:
        if i in rows and rows[i].kind not in HEADINGS:
            fusion.scores[i] *= 1.0 + WEIGHT * coverage(rows[i].title, slots)
    return sorted(head, key=lambda i: -fusion.scores[i]) + ranked[RERANK_DEPTH:]
