"""What a 'Conditions classifiable to C15-C26' note covers: the titles of the categories it points at."""
from __future__ import annotations

import bisect
import re
from typing import Iterable, Mapping

from embeddings.records import Code

# 'Conditions classifiable to C15-C26', 'any condition classifiable to I70.31-', '... to C00-C14, C40-C49, C7A.098'
_NOTE = re.compile(r"classifiable to (.+)$", re.I)
_CODE = r"[A-Z][0-9][0-9A-Z](?:\.[0-9A-Z]{1,4})?"
_RANGE = re.compile(rf"({_CODE})(?:\s*-\s*({_CODE})|\.?-)?")  # C15-C26, or one code (H54.-, I70.31-, C80.1)
MAX_CATEGORIES = 40  # a range wider than this ('L00-L99') says no more than the title's own chapter words


class Classifiable:
    """The categories of one system, sorted by code, to read the ranges notes point at."""

    def __init__(self, codes: Iterable[Code], system: str = "icd10cm"):
        found = {c.code: c.title for c in codes if c.system == system}
        self.system = system
        self.titles = found
        self.categories = sorted(code for code in found if len(code) == 3)

    def covered(self, note: str) -> list[str]:
        """Titles of what the note points at: each category of a range, or the one code named; [] when the note
        points at none, or at more categories than MAX_CATEGORIES in all."""
        said = _NOTE.search(note)
        if not said:
            return []
        out: list[str] = []
        for first, last in _RANGE.findall(said.group(1).replace(" and ", ", ")):
            if last:  # a range of categories, by their first three characters
                lo = bisect.bisect_left(self.categories, first[:3])
                hi = bisect.bisect_right(self.categories, last[:3])
                out += [self.titles[c] for c in self.categories[lo:hi]]
            elif first in self.titles:
                out.append(self.titles[first])
        return list(dict.fromkeys(out)) if len(out) <= MAX_CATEGORIES else []

    def of(self, code: Code, dropped: frozenset[str] = frozenset()) -> list[str]:
        """What the code's own inclusion and includes notes say it covers (none of a held-out note)."""
        if code.system != self.system:
            return []
        notes = [n for n in code.notes_of("inclusion") + code.notes_of("includes") if n not in dropped]
        return list(dict.fromkeys(t for n in notes for t in self.covered(n)))


def covered_titles(codes: list[Code], held_out: Mapping[tuple[str, str], frozenset[str]]) -> dict[tuple[str, str], list[str]]:
    """(system, code) -> the category titles its 'classifiable to' notes point at, for the codes that have any."""
    reader = Classifiable(codes)
    found = {(c.system, c.code): reader.of(c, held_out.get((c.system, c.code), frozenset())) for c in codes}
    return {k: v for k, v in found.items() if v}
