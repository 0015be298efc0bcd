"""Rank fusion of the retrieval paths: reciprocal-rank weights per path, the exact-code boost and intent damping."""
from __future__ import annotations

from dataclasses import dataclass, field

# Path weights in the fusion: a code match counts four times a word or a meaning match at the same rank.
WEIGHTS = {"code": 4.0, "claim": 4.0, "lexical": 1.0, "dense": 1.0}
# An exact code match ("k922" -> K92.2), or claim text equal to a code's, is pinned above everything else.
EXACT_CODE_BOOST = 10.0
# A lexical hit that matched only some of the query words ("heart" of "heart attack") counts for less.
PARTIAL_MATCH_WEIGHT = 0.5


@dataclass(frozen=True)
class Candidate:
    """One retrieved row: its catalogue id, how strongly the path vouches for it (0..1) and why."""
    id: int
    weight: float
    reason: str
    exact: bool = False
    score: float = 0.0  # the path's own score (cosine similarity for the dense path)


@dataclass
class Fusion:
    """Accumulates reciprocal-rank scores and reasons over paths; `ranked()` gives ids best first."""
    rrf_k: int
    scores: dict[int, float] = field(default_factory=dict)
    reasons: dict[int, list[str]] = field(default_factory=dict)
    # candidate -> path -> (0-based rank, weight, path score): what a learned ranker reads
    seen: dict[int, dict[str, tuple[int, float, float]]] = field(default_factory=dict)
    # candidate -> cosine similarity to the query, also for candidates the meaning path did not retrieve
    similarity: dict[int, float] = field(default_factory=dict)
    # candidate -> best cosine between the query and one of the candidate's own official synonyms
    term_similarity: dict[int, float] = field(default_factory=dict)

    def add(self, path: str, candidates: list[Candidate]) -> None:
        for rank, c in enumerate(candidates):
            self.seen.setdefault(c.id, {})[path] = (rank, c.weight, c.score)
            score = WEIGHTS[path] * c.weight / (self.rrf_k + rank + 1)
            if c.exact:
                score += EXACT_CODE_BOOST
            self.scores[c.id] = self.scores.get(c.id, 0.0) + score
            self.reasons.setdefault(c.id, []).append(c.reason)

    def damp(self, ids: list[int], factor: float) -> None:
        """Multiply the scores of `ids` (candidates that contradict the query's intent, say) by `factor`."""
        for i in ids:
            self.scores[i] *= factor

    def ranked(self) -> list[int]:
        return sorted(self.scores, key=lambda i: -self.scores[i])
