"""BEIR-style metrics as pure functions of per-query outcomes: Recall@k, MRR, nDCG, latency percentiles."""
from __future__ import annotations

import math
from dataclasses import dataclass

K = 10


@dataclass(frozen=True)
class Outcome:
    qid: str
    text: str
    kind: str
    prefixes: tuple[str, ...]
    rank: int  # 1-based rank of the first relevant result; 0 when none is in the top K
    gains: tuple[int, ...]
    ideal: int  # relevant codes in the index, at most K
    codes: tuple[str, ...]
    titles: tuple[str, ...]
    ms: float
    did_you_mean: str | None = None


def metrics(outcomes: list[Outcome], k: int = K) -> dict:
    """Recall@k is the share of queries with a relevant code in the top k (one target concept per query)."""
    n = len(outcomes) or 1
    out = {f"recall@{c}": sum(0 < o.rank <= c for o in outcomes) / n for c in (1, 5, 10) if c <= k}
    out[f"mrr@{k}"] = sum(1 / o.rank for o in outcomes if o.rank) / n
    out[f"ndcg@{k}"] = sum(_ndcg(o, k) for o in outcomes) / n
    times = sorted(o.ms for o in outcomes)
    out["p50_ms"] = _percentile(times, 50)
    out["p95_ms"] = _percentile(times, 95)
    out["queries"] = len(outcomes)
    return {m: round(v, 4) if isinstance(v, float) else v for m, v in out.items()}


def recall_curve(outcomes: list[Outcome], k: int = K) -> list[float]:
    n = len(outcomes) or 1
    return [sum(0 < o.rank <= c for o in outcomes) / n for c in range(1, k + 1)]


def _ndcg(o: Outcome, k: int) -> float:
    dcg = sum(g / math.log2(i + 2) for i, g in enumerate(o.gains[:k]))
    ideal = sum(1 / math.log2(i + 2) for i in range(min(o.ideal, k)))
    return dcg / ideal if ideal else 0.0


def _percentile(sorted_values: list[float], pct: float) -> float:
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, max(0, math.ceil(pct / 100 * len(sorted_values)) - 1))
    return sorted_values[index]


def by_kind(outcomes: list[Outcome]) -> dict:
    """Metrics per query kind (lay, abbrev, typo, laterality, ...)."""
    kinds = sorted({o.kind for o in outcomes})
    return {kind: metrics([o for o in outcomes if o.kind == kind]) for kind in kinds}


