"""One vector per official synonym (inclusion term, includes note, PCS Index term), each tied to the codes it names."""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

import numpy as np

VECTORS = "term-vectors.npy"
OWNERS = "term-owners.npz"


def write(directory: Path, synonyms_of_rows: Sequence[Sequence[str]],
          encode: Callable[[list[str]], np.ndarray]) -> int:
    """Encode each distinct synonym once and write the vectors with, per catalogue row, the positions of its own
    synonyms' vectors. A code's single vector blends its title with a few synonyms; a vector per synonym lets a
    query that reads like one of them ('cyst of pancreas' beside 'calculus of pancreas') find the code. Returns
    the number of distinct synonyms."""
    texts = sorted({t for synonyms in synonyms_of_rows for t in synonyms})
    position = {t: n for n, t in enumerate(texts)}
    counts = np.fromiter((len(set(s)) for s in synonyms_of_rows), dtype=np.int64, count=len(synonyms_of_rows))
    starts = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    members = np.fromiter((position[t] for s in synonyms_of_rows for t in dict.fromkeys(s)), dtype=np.int32,
                          count=int(starts[-1]))
    vectors = encode(texts) if texts else np.zeros((0, 1), dtype=np.float32)
    np.save(directory / VECTORS, np.ascontiguousarray(vectors, dtype=np.float32))
    np.savez(directory / OWNERS, starts=starts, members=members)
    return len(texts)


class TermVectors:
    """The synonym vectors of a built index, memory-mapped (shared by every worker)."""

    def __init__(self, vectors: np.ndarray, starts: np.ndarray, members: np.ndarray):
        self.vectors, self.starts, self.members = vectors, starts, members
        # The other way round: for each synonym, the rows it belongs to (term_starts[t]:term_starts[t + 1]).
        order = np.argsort(members, kind="stable")
        self.term_rows = np.repeat(np.arange(len(starts) - 1), np.diff(starts))[order]
        self.term_starts = np.searchsorted(members[order], np.arange(len(vectors) + 1))

    @classmethod
    def read(cls, directory: Path) -> "TermVectors | None":
        """None for an index built without them (a words-stage index, or one from an earlier version)."""
        if not (directory / VECTORS).exists() or not (directory / OWNERS).exists():
            return None
        with np.load(directory / OWNERS) as owners:
            starts, members = owners["starts"], owners["members"]
        return cls(np.load(directory / VECTORS, mmap_mode="r"), starts, members)

    def best(self, ids: Sequence[int], query: np.ndarray) -> dict[int, float]:
        """Each row's highest cosine between the query vector and one of its own synonyms (rows with none left out)."""
        spans = [(i, int(self.starts[i]), int(self.starts[i + 1])) for i in ids if 0 <= i < len(self.starts) - 1]
        spans = [s for s in spans if s[2] > s[1]]
        if not spans or self.vectors.shape[1] != query.shape[0]:
            return {}
        positions = np.unique(np.concatenate([self.members[a:b] for _, a, b in spans]))
        scores = np.asarray(self.vectors[positions] @ query, dtype=np.float64)
        return {i: float(scores[np.searchsorted(positions, self.members[a:b])].max()) for i, a, b in spans}

    def nearest(self, query: np.ndarray, terms: int, max_owners: int) -> list[tuple[int, float]]:
        """Rows owning one of the `terms` synonyms nearest the query, each with its best cosine, best first. A
        synonym shared by more than `max_owners` codes names a family (a PCS Index term), not a code: skipped."""
        if not len(self.vectors) or self.vectors.shape[1] != query.shape[0]:
            return []
        scores = np.asarray(self.vectors @ query)
        top = np.argpartition(-scores, min(terms, len(scores) - 1))[:terms]
        found: dict[int, float] = {}
        for t in top[np.argsort(-scores[top])]:
            a, b = int(self.term_starts[t]), int(self.term_starts[t + 1])
            if b - a > max_owners:
                continue
            for row in self.term_rows[a:b].tolist():
                found.setdefault(row, float(scores[t]))
        return sorted(found.items(), key=lambda r: -r[1])
