"""One vector per official synonym (inclusion term, includes note, PCS Index term), each tied to the codes it names."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Callable, Sequence

import faiss
import numpy as np

from embeddings.index.dense import build_dense

VECTORS = "term-vectors.npy"
OWNERS = "term-owners.npz"
TEXTS = "term-texts.json"  # the synonyms themselves, so a hit can say which one it was found by
GRAPH = "term-vectors.faiss"  # HNSW over the same vectors: the nearest synonyms without reading all 23 MB a query
EF_SEARCH = 128


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
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    np.save(directory / VECTORS, vectors)
    np.savez(directory / OWNERS, starts=starts, members=members)
    (directory / TEXTS).write_text(json.dumps(texts, ensure_ascii=False))
    faiss.write_index(build_dense(vectors, "hnsw"), str(directory / GRAPH))
    return len(texts)


class TermVectors:
    """The synonym vectors of a built index, memory-mapped (shared by every worker)."""

    def __init__(self, vectors: np.ndarray, starts: np.ndarray, members: np.ndarray, graph: faiss.Index,
                 texts: list[str]):
        self.vectors, self.starts, self.members, self.graph, self.texts = vectors, starts, members, graph, texts
        # The other way round: for each synonym, the rows it belongs to (term_starts[t]:term_starts[t + 1]).
        order = np.argsort(members, kind="stable")
        self.term_rows = np.repeat(np.arange(len(starts) - 1), np.diff(starts))[order]
        self.term_starts = np.searchsorted(members[order], np.arange(len(vectors) + 1))

    @classmethod
    def read(cls, directory: Path) -> "TermVectors | None":
        """None for an index built without them (a words-stage index, or one from an earlier version)."""
        if not all((directory / name).exists() for name in (VECTORS, OWNERS, GRAPH, TEXTS)):
            return None
        with np.load(directory / OWNERS) as owners:
            starts, members = owners["starts"], owners["members"]
        graph = faiss.read_index(str(directory / GRAPH), faiss.IO_FLAG_MMAP_IFC)
        if hasattr(graph, "hnsw"):
            graph.hnsw.efSearch = EF_SEARCH
        texts = json.loads((directory / TEXTS).read_text())
        return cls(np.load(directory / VECTORS, mmap_mode="r"), starts, members, graph, texts)

    def best(self, ids: Sequence[int], query: np.ndarray) -> dict[int, float]:
        """Each row's highest cosine between the query vector and one of its own synonyms (rows with none left out)."""
        spans = [(i, int(self.starts[i]), int(self.starts[i + 1])) for i in ids if 0 <= i < len(self.starts) - 1]
        spans = [s for s in spans if s[2] > s[1]]
        if not spans or self.vectors.shape[1] != query.shape[0]:
            return {}
        positions = np.unique(np.concatenate([self.members[a:b] for _, a, b in spans]))
        scores = np.asarray(self.vectors[positions] @ query, dtype=np.float64)
        return {i: float(scores[np.searchsorted(positions, self.members[a:b])].max()) for i, a, b in spans}

    def nearest(self, query: np.ndarray, terms: int, max_owners: int) -> list[tuple[int, float, str]]:
        """Rows owning one of the `terms` synonyms nearest the query, each with its best cosine and that synonym, best
        first. A synonym shared by more than `max_owners` codes names a family (a PCS Index term), not a code."""
        if not len(self.vectors) or self.vectors.shape[1] != query.shape[0]:
            return []
        scores, nearest = self.graph.search(np.asarray(query, dtype=np.float32).reshape(1, -1), terms)
        found: dict[int, tuple[float, str]] = {}
        for t, score in zip(nearest[0].tolist(), scores[0].tolist()):
            if t < 0:
                continue
            a, b = int(self.term_starts[t]), int(self.term_starts[t + 1])
            if b - a > max_owners:
                continue
            for row in self.term_rows[a:b].tolist():
                found.setdefault(row, (float(score), self.texts[t]))
        return sorted(((row, score, text) for row, (score, text) in found.items()), key=lambda r: -r[1])
