"""Parallel wordings: what ICD-10-CM says of a code in other words, said likewise of the codes titled like it."""
from __future__ import annotations

import re
from collections import defaultdict
from typing import Callable, Iterable

from embeddings.records import Code

# ICD-10-CM writes one pattern many times: I82.46 and I82.56 differ only in 'Acute' and 'Chronic', E08.610 and
# E11.610 only in the kind of diabetes. When the tables give one of them another wording ("... of soleal vein" for
# "... of calf muscular vein"), the same rewording holds for its parallel code, though the tables may not list it.
# A rewrite of title Y into its synonym is applied to title X when X differs from Y only outside the reworded
# part, and X is near Y: under the same category, or a parallel code (same characters after the category).
_WORD = re.compile(r"[a-z0-9']+")
SYSTEM = "icd10cm"
MAX_PER_CODE = 12  # parallel wordings kept for one code (a code with many parallels would otherwise take dozens)


def words(text: str) -> tuple[str, ...]:
    return tuple(_WORD.findall(text.lower()))


def rewrite(title: tuple[str, ...], synonym: tuple[str, ...]) -> tuple[int, int, tuple[str, ...]] | None:
    """(start, end, new words): the one span of the title the synonym says otherwise; None when the synonym shares
    no words at either end with the title (a rewording of the whole, which says nothing of parallel codes) or
    only drops words."""
    n, m = len(title), len(synonym)
    start = 0
    while start < min(n, m) and title[start] == synonym[start]:
        start += 1
    tail = 0
    while tail < min(n, m) - start and title[n - 1 - tail] == synonym[m - 1 - tail]:
        tail += 1
    if start == n - tail or start + tail == 0 or start == m - tail:
        return None
    return start, n - tail, synonym[start:m - tail]


def near(x: str, y: str) -> bool:
    """Codes of one category, or parallel codes of one letter (E08.610 and E11.610)."""
    kx, ky = x.replace(".", ""), y.replace(".", "")
    return kx[:3] == ky[:3] or (len(kx) > 3 and kx[3:] == ky[3:] and kx[0] == ky[0])


def parallel_wordings(codes: Iterable[Code], synonyms_of: Callable[[Code], list[str]],
                      kinds: frozenset[str]) -> dict[tuple[str, str], list[str]]:
    """(system, code) -> wordings made by rewording the code's title as a near code's synonym rewords its own,
    new words only (not a subset of the title's words, nor one of the code's own synonyms). `synonyms_of` gives a
    code's own official synonyms, held-out terms already left out."""
    codes = [c for c in codes if c.system == SYSTEM and c.kind in kinds]
    titles = {c.code: words(c.title) for c in codes}
    # The rewrites, by what the parallel code's title must hold: its whole text from the reworded span's start
    # (the words before it may differ) or up to the span's end (the words after it may differ).
    by_tail: dict[tuple[str, ...], list[tuple[str, tuple[str, ...]]]] = defaultdict(list)
    by_head: dict[tuple[str, ...], list[tuple[str, tuple[str, ...]]]] = defaultdict(list)
    own: dict[str, set[tuple[str, ...]]] = {}
    for c in codes:
        mine = [words(s) for s in synonyms_of(c)]
        own[c.code] = set(mine)
        for synonym in mine:
            found = rewrite(titles[c.code], synonym)
            if found is None:
                continue
            start, end, new = found
            title = titles[c.code]
            if start:
                by_tail[title[start:]].append((c.code, new + title[end:]))
            if end < len(title):
                by_head[title[:end]].append((c.code, title[:start] + new))
    found_for: dict[tuple[str, str], list[str]] = {}
    for c in codes:
        title = titles[c.code]
        made: dict[tuple[str, ...], None] = {}
        for k in range(1, len(title)):
            for source, reworded in by_tail.get(title[k:], ()):
                if near(c.code, source):
                    made[title[:k] + reworded] = None
            for source, reworded in by_head.get(title[:k], ()):
                if near(c.code, source):
                    made[reworded + title[k:]] = None
        plain = set(title)
        kept = [" ".join(w) for w in made if not set(w) <= plain and w not in own[c.code]][:MAX_PER_CODE]
        if kept:
            found_for[(c.system, c.code)] = kept
    return found_for
