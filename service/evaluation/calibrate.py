"""`make calibrate`: fit the best-match confidence on the lay training queries and measure it on the lay set."""
from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

from embeddings.settings import Settings
from service.evaluation.sets import LAY_TRAIN_FILE, lay_set, query_key
from service.search import autocode
from service.search import query as q
from service.search.engine import SearchEngine

TARGET_PRECISION = 0.90  # the threshold keeps answers at least this often right on the fitting queries
BINS = 10


def observe(engine: SearchEngine, queries) -> tuple[np.ndarray, np.ndarray]:
    """Features of each query's best match (no system given, as a batch coder might send it) and whether that
    code is one the query accepts."""
    xs, ys = [], []
    for query in queries:
        result = engine.search(query.text, None, None, None, 10)
        chosen = autocode.choose(result.hits)
        xs.append(autocode.features(result, chosen, q.parse(query.text).words))
        key = chosen.code.replace(".", "") if chosen else ""
        ys.append(float(bool(chosen) and chosen.system == query.system and key.startswith(query.prefixes)))
    return np.array(xs), np.array(ys)


def fit(x: np.ndarray, y: np.ndarray, l2: float = 1e-2, steps: int = 8000, rate: float = 0.3) -> np.ndarray:
    """Logistic regression by gradient descent (features are small and few; no library needed)."""
    w = np.zeros(x.shape[1])
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(x @ w)))
        w -= rate * (x.T @ (p - y) / len(y) + l2 * np.r_[0, w[1:]])
    return w


def expected_calibration_error(p: np.ndarray, y: np.ndarray, bins: int = BINS) -> float:
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    return float(sum(abs(p[which == b].mean() - y[which == b].mean()) * (which == b).mean()
                     for b in range(bins) if (which == b).any()))


def threshold_for(p: np.ndarray, y: np.ndarray, precision: float = TARGET_PRECISION) -> float:
    """The lowest confidence at which the answers above it are right at least `precision` of the time."""
    for t in np.round(np.arange(0.05, 0.96, 0.01), 2):
        kept = p >= t
        if kept.any() and y[kept].mean() >= precision:
            return float(t)
    return 0.95


def report(p: np.ndarray, y: np.ndarray, threshold: float) -> dict:
    kept = p >= threshold
    return {"queries": int(len(y)), "top_choice_right": round(float(y.mean()), 3),
            "ece": round(expected_calibration_error(p, y), 3), "brier": round(float(((p - y) ** 2).mean()), 3),
            "confident_share": round(float(kept.mean()), 3),
            "precision_when_confident": round(float(y[kept].mean()), 3) if kept.any() else None}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="medcodes-calibrate", description=__doc__)
    parser.add_argument("--out", default=str(autocode.CALIBRATION_FILE))
    args = parser.parse_args(argv)
    engine = SearchEngine.open(Settings.from_env())
    measured = lay_set(engine.store).queries
    seen = frozenset(query_key(query.text) for query in measured)
    fitting = lay_set(engine.store, LAY_TRAIN_FILE, "train-lay", seen).queries
    x_fit, y_fit = observe(engine, fitting)
    x_test, y_test = observe(engine, measured)
    # Standardise by the fitting queries (the bias column stays 1), so one step size suits every feature.
    mean = np.r_[0.0, x_fit[:, 1:].mean(axis=0)]
    scale = np.r_[1.0, x_fit[:, 1:].std(axis=0) + 1e-6]
    z_fit, z_test = (x_fit - mean) / scale, (x_test - mean) / scale
    w = fit(z_fit, y_fit)
    p_fit, p_test = 1 / (1 + np.exp(-(z_fit @ w))), 1 / (1 + np.exp(-(z_test @ w)))
    threshold = threshold_for(p_fit, y_fit)
    record = {"fitted_on": engine.store.manifest.get("fingerprint"), "model": engine.store.model.get("name"),
              "date": time.strftime("%Y-%m-%d"), "split": "fitted on the lay training queries, measured on the lay evaluation set",
              "fit": report(p_fit, y_fit, threshold), "held_out": report(p_test, y_test, threshold)}
    named = lambda values: dict(zip(autocode.FEATURES, (round(float(v), 6) for v in values)))  # noqa: E731
    payload = {"weights": named(w), "mean": named(mean), "scale": named(scale), "threshold": threshold,
               "record": record}
    with open(args.out, "w") as fh:
        json.dump(payload, fh, indent=2)
        fh.write("\n")
    print(json.dumps(record, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
