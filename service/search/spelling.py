"""Typo correction: a word the index does not know, corrected to the nearest vocabulary word."""
from __future__ import annotations

from typing import Callable, Iterable, Mapping

from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA

from service.search import query as q

# A word known only through the stemmer ('migrane' stems as 'migrans' does) is still read as a typo of a word one
# edit away whose documents are this many times as many ('migraine'); forms of one word match the same documents.
STEM_TYPO_RATIO = 10


class Speller:
    """Corrects words the index does not know to the nearest vocabulary word (OSA edit distance, then frequency)."""

    def __init__(self, vocabulary: Mapping[str, int], is_known: Callable[[str], bool] = lambda _w: False,
                 protected: Iterable[str] = (), documents: Callable[[str, int], int] | None = None):
        self.freq = dict(vocabulary)
        self.is_known = is_known
        self.documents = documents  # (word, cap) -> documents the word matches after stemming, up to cap
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
        if len(word) < 4 or not word.isalpha() or word in q.STOPWORDS or word in self.freq or word in self.protected:
            return None
        if self.is_known(word):
            return self._stem_typo(word)
        best = self._nearest(word, self.max_distance(word))
        return best[0] if best else None

    def _nearest(self, word: str, limit: int) -> tuple[str, float, int] | None:
        choices = [w for n in range(len(word) - limit, len(word) + limit + 1) for w in self._by_length.get(n, ())]
        found = process.extract(word, choices, scorer=OSA.distance, score_cutoff=limit, limit=25)
        # Fewest edits; then most letters in common (eczema over except for 'excema'); then the commoner word.
        return min(found, key=lambda f: (f[1], -fuzz.ratio(word, f[0]), -self.freq[f[0]], f[0])) if found else None

    def _stem_typo(self, word: str) -> str | None:
        """The word one edit away when the stemmer joins this one only to a far rarer word."""
        if self.documents is None or len(word) < 6:
            return None
        best = self._nearest(word, 1)
        if best is None or best[0][0] != word[0]:
            return None
        mine = self.documents(word, 1000)
        return best[0] if self.documents(best[0], STEM_TYPO_RATIO * mine + 1) > STEM_TYPO_RATIO * mine else None
