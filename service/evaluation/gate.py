"""Pinned figures and the regression gate: OK/FAIL per gated metric against data/eval/expected.json."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from embeddings.locate import repo_file

GATED = ("recall@1", "recall@5", "recall@10", "mrr@10", "ndcg@10")
EXPECTED = repo_file("data", "eval", "expected.json")
TOLERANCE = 0.01  # one point on the 0-1 scale


@dataclass(frozen=True)
class Check:
    set: str
    method: str
    metric: str
    pinned: float
    got: float

    @property
    def ok(self) -> bool:
        return self.got >= self.pinned - TOLERANCE


def load_expected(path: Path = EXPECTED) -> dict:
    return json.loads(path.read_text()) if path.exists() else {"profiles": {}}


def pinned_profile(expected: dict, identity: dict) -> tuple[str, dict] | None:
    for name, profile in expected.get("profiles", {}).items():
        if profile.get("index") == identity:
            return name, profile
    return None


def check(results: dict, pinned: dict) -> list[Check]:
    """Compare every gated metric the run produced with its pinned figure."""
    return [Check(s, m, metric, pinned[s][m][metric], results[s][m][metric])
            for s in results if s in pinned for m in results[s] if m in pinned[s]
            for metric in GATED if metric in pinned[s][m]]


def pin(report: Any, profile: str, path: Path = EXPECTED) -> None:
    """Write the gated figures of `report` as the expected figures for this index (model, code count)."""
    expected = load_expected(path)
    expected.setdefault("tolerance", TOLERANCE)
    expected["profiles"][profile] = {"index": report.index, "results": {
        s: {m: {k: v for k, v in r.items() if k in GATED} for m, r in ms.items()} for s, ms in report.results.items()}}
    path.write_text(json.dumps(expected, indent=1, sort_keys=True) + "\n")


