"""Best match for batch coding: one codable code for a text, a calibrated confidence, and 'no confident match'."""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from service.search import query as q
from service.search.engine import Hit, SearchEngine, SearchResult
from service.search.reasons import matched_words

CALIBRATION_FILE = Path(__file__).with_name("autocode.json")
FEATURES = ("bias", "top_score", "margin", "exact_code", "semantic", "coverage", "all_words", "billable", "few_hits",
            "agreement", "expanded", "rank")
LOOK = 5  # the best match is the first billable code among this many results (a category is not codable)
_SEMANTIC = re.compile(r"semantic (-?[0-9.]+)")


@dataclass(frozen=True)
class Calibration:
    """Logistic weights over standardised FEATURES (each minus its mean, over its spread, the bias aside) and the
    confidence below which the answer is 'no confident match'."""
    weights: tuple[float, ...]
    threshold: float
    mean: tuple[float, ...] = ()
    scale: tuple[float, ...] = ()
    record: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path = CALIBRATION_FILE) -> "Calibration | None":
        try:
            data = json.loads(path.read_text())
            weights = tuple(float(data["weights"][name]) for name in FEATURES)
            mean = tuple(float(data["mean"][name]) for name in FEATURES)
            scale = tuple(float(data["scale"][name]) for name in FEATURES)
            return cls(weights, float(data["threshold"]), mean, scale, dict(data.get("record", {})))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def standardise(self, x: np.ndarray) -> np.ndarray:
        if not self.mean:
            return x
        standard: np.ndarray = (x - np.asarray(self.mean)) / np.asarray(self.scale)
        return standard

    def confidence(self, x: np.ndarray) -> float:
        z = float(np.dot(np.asarray(self.weights), self.standardise(x)))
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))


@dataclass(frozen=True)
class AutoCode:
    text: str
    hit: Hit | None
    confidence: float
    confident: bool
    alternatives: tuple[Hit, ...]


def choose(hits: tuple[Hit, ...]) -> Hit | None:
    """The first billable code among the top LOOK (what a claim needs), else the top result."""
    for hit in hits[:LOOK]:
        if hit.billable:
            return hit
    return hits[0] if hits else None


def features(result: SearchResult, chosen: Hit | None, words: tuple[str, ...]) -> np.ndarray:
    """What the ranking says about how sure it is: the chosen hit's score, margin and rank, how it was found (code,
    meaning, a lay-term expansion), how much of the query its title says, and whether the top results agree on its
    category."""
    hits = result.hits
    if chosen is None:
        return np.zeros(len(FEATURES))
    top = hits[0].score
    second = hits[1].score if len(hits) > 1 else 0.0
    semantic = max([float(m.group(1)) for r in chosen.reasons for m in [_SEMANTIC.search(r)] if m] or [0.0])
    covered = len(matched_words(chosen.title, words)) / len(words) if words else 0.0
    head = hits[:LOOK]
    agreement = sum(h.system == chosen.system and h.code[:3] == chosen.code[:3] for h in head) / len(head)
    expanded = float(any(r.startswith("expanded") for r in chosen.reasons))
    rank = next((i for i, h in enumerate(hits) if h is chosen), LOOK) / LOOK
    return np.array([1.0, top, (top - second) / top if top > 0 else 0.0,
                     float(any(r == "code" for r in chosen.reasons)), semantic, covered, float(covered == 1.0),
                     float(chosen.billable), float(result.total < 5), agreement, expanded, rank])


def best_match(engine: SearchEngine, text: str, system: str | None, calibration: Calibration | None) -> AutoCode:
    result = engine.search(text, system, None, None, 10)
    chosen = choose(result.hits)
    x = features(result, chosen, q.parse(text, engine.settings.max_query_chars).words)
    if chosen is not None and "code" in chosen.reasons:  # the text is this very code: nothing to be unsure of
        return AutoCode(result.query, chosen, 1.0, True, tuple(h for h in result.hits[:4] if h is not chosen)[:3])
    if calibration is None or chosen is None:
        return AutoCode(result.query, chosen, 0.0, False, result.hits[:3])
    confidence = calibration.confidence(x)
    return AutoCode(result.query, chosen, round(confidence, 3), confidence >= calibration.threshold,
                    tuple(h for h in result.hits[:4] if h is not chosen)[:3])
