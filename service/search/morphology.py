"""Medical word formation: a rare compound word read as the plain words of its parts ('nephrolithiasis' -> kidney
calculus, 'cheilopalatoschisis' -> lip palate cleft, 'appendectomy' -> appendix excision or resection)."""
from __future__ import annotations

import csv
import itertools
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Mapping

import embeddings

TABLE = Path(embeddings.__file__).parent / "terms" / "morphemes.tsv"
KINDS = ("prefix", "root", "suffix")
CONNECTORS = "oiae"  # the combining vowel between two parts: nephr-o-lith, chol-e-cyst
MIN_LENGTH = 8  # shorter words are too easily misread ('colon' is not col + on)
RARE = 2  # a word official text uses more often than this is searched as itself only
MAX_READINGS = 4  # alternatives kept when parts mean more than one thing ('ectomy': excision or resection)
EMPTY_MEANINGS = frozenset({"condition", "like"})  # suffixes that say only 'a condition of'


@dataclass(frozen=True)
class Part:
    form: str
    kind: str
    meanings: tuple[str, ...]


def load_parts(path: Path = TABLE) -> dict[str, tuple[Part, ...]]:
    """The table (form, kind, meaning with '|' between alternatives), by form."""
    parts: dict[str, list[Part]] = {}
    with open(path, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            if row["kind"] not in KINDS:
                raise ValueError(f"{path}: kind {row['kind']!r} of {row['form']!r} is not one of {', '.join(KINDS)}")
            meanings = tuple(m.strip() for m in row["meaning"].split("|") if m.strip())
            parts.setdefault(row["form"], []).append(Part(row["form"], row["kind"], meanings))
    return {f: tuple(p) for f, p in parts.items()}


class Morphology:
    """Splits a word the index rarely or never uses into table parts: prefixes, then roots (at least one), then at
    most one suffix, joined directly or by one combining vowel. The split with the fewest parts wins."""

    def __init__(self, parts: Mapping[str, tuple[Part, ...]], vocabulary: Mapping[str, int]):
        self.parts, self.vocabulary = parts, vocabulary
        self.longest = max((len(f) for f in parts), default=0)
        self.split = lru_cache(maxsize=20_000)(self._split)

    def read(self, word: str) -> tuple[tuple[str, ...], ...]:
        """The plain-word readings of a rare compound word (each an AND of words), or () when it is common, short,
        or does not split into at least two parts that mean something."""
        if len(word) < MIN_LENGTH or not word.isalpha() or self.vocabulary.get(word, 0) > RARE:
            return ()
        parts = self.split(word)
        meaningful = [p for p in parts if set(p.meanings) - EMPTY_MEANINGS]
        if len(meaningful) < 2:
            return ()
        choices = [[tuple(m.split()) for m in p.meanings if m not in EMPTY_MEANINGS] for p in meaningful]
        readings = []
        for combo in itertools.islice(itertools.product(*choices), MAX_READINGS):
            readings.append(tuple(dict.fromkeys(w for words in combo for w in words)))
        return tuple(dict.fromkeys(readings))

    def _split(self, word: str) -> tuple[Part, ...]:
        best: dict[tuple[int, int], tuple[Part, ...]] = {(0, 0): ()}  # (position, stage) -> fewest parts so far
        for start in range(len(word)):
            for stage in range(3):
                done = best.get((start, stage))
                if done is None:
                    continue
                skip = (0, 1) if done and word[start] in CONNECTORS else (0,)
                for gap in skip:
                    at = start + gap
                    for end in range(at + 2, min(len(word), at + self.longest) + 1):
                        for part in self.parts.get(word[at:end], ()):
                            step = KINDS.index(part.kind)
                            if step < stage or (step == 2 and stage == 2):
                                continue
                            key = (end, max(stage, step if step != 1 else 1))
                            found = done + (part,)
                            if key not in best or len(found) < len(best[key]):
                                best[key] = found
        finished = [best[(len(word), s)] for s in (1, 2) if (len(word), s) in best]
        ends = [p for p in finished if any(x.kind == "root" for x in p)]
        return min(ends, key=len) if ends else ()
