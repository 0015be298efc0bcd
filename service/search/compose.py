"""Plain words that spell a compound word official text uses: the morpheme table read backwards ('inflammation of
the pancreas' -> pancreatitis, 'enlarged liver' -> hepatomegaly, 'softening of the bones' -> osteomalacia)."""
from __future__ import annotations

from typing import Mapping

from service.search import query as q
from service.search.intent import PROCEDURE_SUFFIXES
from service.search.morphology import EMPTY_MEANINGS, Morphology, readings
from service.search.terms import Entry, Matches, singular

MIN_LENGTH = 6  # 'otitis', 'colitis': the vocabulary's own words, so shorter than the query-side minimum
# Suffixes that name what is done, not what is wrong (the procedure words intent reads, and the table's other
# operation suffixes): the root-operation reading of procedure words covers those.
OPERATION_SUFFIXES = frozenset(PROCEDURE_SUFFIXES) | {"tomy", "gram", "desis", "lysis", "lithectomy", "lithotomy"}
# Suffixes too general to stand for the query's words ('kidney disease' is not always nephropathy).
VAGUE_SUFFIXES = frozenset({"pathy", "trophy", "oma"})
SKIPPED_SUFFIXES = OPERATION_SUFFIXES | VAGUE_SUFFIXES
# Words inside a phrase that only tie its parts together ('inflammation of the pancreas').
TIES = frozenset({"of", "the", "in", "a", "an", "my", "his", "her", "their", "is", "are", "around", "within"})
# Everyday forms of the words the table's meanings use.
EVERYDAY = {"stone": "calculus", "inflamed": "inflammation", "swollen": "enlargement", "bleeding": "hemorrhage",
            "soft": "softening", "narrow": "narrowing", "narrowed": "narrowing", "ruptured": "rupture",
            "paralyzed": "paralysis", "weak": "weakness", "painful": "pain", "sore": "pain", "ache": "pain",
            "aching": "pain", "hard": "hardening", "hardened": "hardening", "widened": "dilation",
            "dilated": "dilation"}


def key_of(word: str) -> str:
    """The form a query word and a meaning word are compared in ('enlarged' and 'enlargement' share one)."""
    word = singular(word)
    return q.stem(EVERYDAY.get(word, word))


class Composer:
    """Each compound word of the index vocabulary that ends in a condition suffix (-itis, -megaly, -malacia,
    -algia ...) is keyed by the plain words of its parts; a query phrase that says all of them, with only tying
    words between, also searches for the compound word."""

    def __init__(self, morphology: Morphology, vocabulary: Mapping[str, int]):
        self.compounds: dict[frozenset[str], tuple[str, ...]] = {}
        self.condition_keys: set[str] = set()  # keys of suffix meanings: 'and' may join two parts, never these
        for word in vocabulary:
            if len(word) < MIN_LENGTH or not word.isalpha():
                continue
            parts = morphology.split(word)
            if not parts or parts[-1].kind != "suffix" or parts[-1].form in SKIPPED_SUFFIXES:
                continue
            meaningful = [p for p in parts if set(p.meanings) - EMPTY_MEANINGS]
            if len(meaningful) < 2 or meaningful[-1] is not parts[-1]:
                continue
            for reading in readings(meaningful):
                key = frozenset(key_of(w) for w in reading if w not in q.STOPWORDS)
                if len(key) >= 2:
                    self.compounds[key] = tuple(sorted({*self.compounds.get(key, ()), word}))
            self.condition_keys |= {key_of(w) for m in parts[-1].meanings for w in m.split()}
        self.known = frozenset(k for key in self.compounds for k in key)

    def matches(self, words: list[str], taken: set[int]) -> Matches:
        """Phrases of the query no other match covers that say every part of a compound word, longest first."""
        keys = [key_of(w) if i not in taken and w not in q.STOPWORDS else "" for i, w in enumerate(words)]
        found: Matches = {}
        used: set[int] = set()
        for start in range(len(words)):
            if not keys[start] or keys[start] not in self.known or start in used:
                continue
            best = None
            said: set[str] = set()
            for end in range(start, len(words)):
                word = words[end]
                if keys[end] in self.known:
                    said.add(keys[end])
                elif word == "and" and end > start and keys[end - 1] not in self.condition_keys:
                    continue
                elif word not in TIES:
                    break
                if keys[end] in self.known and (hit := self.compounds.get(frozenset(said))):
                    best = (end, hit)
            if best is not None:
                end, hit = best
                term = " ".join(words[start:end + 1])
                found[start] = (end - start + 1, tuple(Entry(term, w, "") for w in hit))
                used |= set(range(start, end + 1))
        return found
