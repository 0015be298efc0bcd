"""Why a word match was found, as a user reads it: the query words its title holds, or the official name that does."""
from __future__ import annotations

import re
from typing import Sequence

from service.search import query as q

_WORD = re.compile(r"[a-z0-9]+")
# A match neither the title nor an official name explains came from the hierarchy, the notes, or wording medcodes
# generates (a near code's synonym reworded for this code, an authored summary): said so, never called official.
OTHER_TEXT = "words of its hierarchy or notes, or wording made from near codes' synonyms"


def matched_words(title: str, words: tuple[str, ...]) -> list[str]:
    """Query words found in a title, comparing stems (query.stem) so 'fractures' matches 'fracture'."""
    title_words = {q.stem(w) for w in _WORD.findall(title.lower())}
    return [w for w in words if q.stem(w) in title_words]


def lexical_reason(title: str, names: Sequence[str], words: tuple[str, ...]) -> str:
    """'words: ...' when the title holds query words; else the official name holding most of them; else OTHER_TEXT."""
    matched = matched_words(title, words)
    if matched:
        return "words: " + ", ".join(matched)
    counts = [(len(matched_words(name, words)), -n, name) for n, name in enumerate(names)]
    best = max(counts, default=(0, 0, ""))
    return f"synonym: {best[2]}" if best[0] else OTHER_TEXT
