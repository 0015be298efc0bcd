"""Typo correction: a word the index does not know, corrected to the nearest vocabulary word."""
from __future__ import annotations

from typing import Callable, Iterable, Mapping

from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA

from service.search import query as q


class Speller:
    """Corrects words the index does not know to the nearest vocabulary word (OSA edit distance, then frequency)."""

    def __init__(self, vocabulary: Mapping[str, int], is_known: Callable[[str], bool] = lambda _w: False,
                 protected: Iterable[str] = ()):
        self.freq = dict(vocabulary)
        self.is_known = is_known
        self.protected = frozenset(protected)
        self._by_length: dict[int, list[str]] = {}
        for word in self.freq:
            self._by_length.setdefault(len(word), []).append(word)
        self._memo: dict[str, str | None] = {}

    @staticmethod
    def max_distance(word: str) -> int:
        return 1 if len(word) <= 5 else 2

    def knows(self, word: str) -> bool:
        """The word is in the index, the protected terms or the model's vocabulary: not a typo, not a fragment."""
        return word in self.freq or word in self.protected or self.is_known(word)

    def correct(self, word: str) -> str | None:
        if word in self._memo:
            return self._memo[word]
        found = self._correct(word)
        if len(self._memo) < 50_000:
            self._memo[word] = found
        return found

    def _correct(self, word: str) -> str | None:
        if len(word) < 4 or not word.isalpha() or word in q.STOPWORDS or self.knows(word):
            return None
        limit = self.max_distance(word)
        choices = [w for n in range(len(word) - limit, len(word) + limit + 1) for w in self._by_length.get(n, ())]
        found = process.extract(word, choices, scorer=OSA.distance, score_cutoff=limit, limit=25)
        if not found:
            return None
        # Fewest edits; then most letters in common (eczema over except for 'excema'); then the commoner word.
        best = min(found, key=lambda f: (f[1], -fuzz.ratio(word, f[0]), -self.freq[f[0]], f[0]))
        return best[0]
