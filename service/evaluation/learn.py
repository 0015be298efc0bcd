"""`python -m service.evaluation.learn`: train the learned ranker on the training query sets, never the evaluation
ones, against the held-out index (their terms are left out of it too), and write service/search/ranker.json."""
from __future__ import annotations

import argparse
import json
import random
import sys
import time

import numpy as np

from embeddings.settings import Settings
from service.evaluation import heldout as ho
from service.evaluation import sets as es
from service.evaluation.runner import heldout_sets, is_relevant
from service.search import query as q
from service.search import ranker
from service.search.engine import DEFAULT_FEATURES, SearchEngine

SEED = 20261201
VALIDATION_SHARE = 0.2  # queries (not candidates) kept apart to check the model against RRF before it is saved
L2 = 1e-2
STEPS = 1500
LEARNING_RATE = 0.5
PAIRS_PER_QUERY = 200


def collect(engine: SearchEngine, queries) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Features of each query's top RANK_DEPTH fused candidates (in RRF order), their labels and query numbers."""
    xs, ys, groups = [], [], []
    for n, query in enumerate(queries):
        parsed = q.parse(query.text)
        parsed, u, fusion = engine.candidates(query.text, parsed, None, "hybrid", DEFAULT_FEATURES)
        head = fusion.ranked()[:ranker.RANK_DEPTH]
        if not head:
            continue
        rows = engine.store.rows(head)
        xs.append(ranker.features(head, fusion, rows, engine.store, u))
        ys.append(np.array([is_relevant(str(engine.store.system_of[i]), str(engine.store.key_of[i]), query)
                            for i in head], dtype=np.float64))
        groups.append(np.full(len(head), n))
    return np.vstack(xs), np.concatenate(ys), np.concatenate(groups)


def fit(x: np.ndarray, y: np.ndarray, groups: np.ndarray, seed: int = SEED) -> ranker.RankerModel:
    """Pairwise logistic regression (RankNet with a linear scorer): within each query, a relevant candidate should
    score above an irrelevant one. Full-batch gradient descent with L2; at most PAIRS_PER_QUERY pairs a query."""
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    z = (x - mean) / scale
    rng = np.random.default_rng(seed)
    diffs = []
    for g in np.unique(groups):
        rows = np.flatnonzero(groups == g)
        pos, neg = rows[y[rows] > 0], rows[y[rows] == 0]
        if not len(pos) or not len(neg):
            continue
        pairs = [(p, n) for p in pos for n in neg]
        if len(pairs) > PAIRS_PER_QUERY:
            pairs = [pairs[k] for k in rng.choice(len(pairs), PAIRS_PER_QUERY, replace=False)]
        diffs += [z[p] - z[n] for p, n in pairs]
    d = np.array(diffs)
    w = np.zeros(z.shape[1])
    for _ in range(STEPS):
        p = 1.0 / (1.0 + np.exp(-(d @ w)))
        w -= LEARNING_RATE * (d.T @ (p - 1.0) / len(d) + L2 * w)
    return ranker.RankerModel(ranker.FEATURES, w, 0.0, mean, scale, {"pairs": len(d)})


def mrr(x, y, groups, model: ranker.RankerModel | None) -> float:
    """MRR@10 over queries: by the model's scores, or by the fused (RRF) order when model is None."""
    total, count = 0.0, 0
    for g in np.unique(groups):
        rows = groups == g
        labels = y[rows]
        order = np.argsort(-model.score(x[rows]), kind="stable") if model else np.arange(len(labels))
        hits = np.flatnonzero(labels[order][:10])
        total += 1.0 / (hits[0] + 1) if len(hits) else 0.0
        count += 1
    return total / max(count, 1)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m service.evaluation.learn", description=__doc__)
    parser.parse_args(argv)
    settings = Settings.from_env()
    engine = SearchEngine.open(settings)
    ho.ensure_heldout_index(settings, engine.store, heldout_sets(engine.store), engine.encoder)
    heldout = SearchEngine(ho.open_heldout(settings, engine.store), engine.encoder, settings)
    started = time.monotonic()
    train_sets = es.train_sets(engine.store)
    held_codes = {key for s in train_sets.values() for key, _terms in s.held_out}
    queries = [query for s in train_sets.values() for query in s.queries]
    random.Random(SEED).shuffle(queries)
    cut = int(len(queries) * (1 - VALIDATION_SHARE))
    x, y, groups = collect(heldout, queries[:cut])
    vx, vy, vgroups = collect(heldout, queries[cut:])
    model = fit(x, y, groups)
    checked = {"validation_queries": len(queries) - cut, "validation_mrr@10_rrf": round(mrr(vx, vy, vgroups, None), 4),
               "validation_mrr@10_model": round(mrr(vx, vy, vgroups, model), 4)}
    print(json.dumps(checked), file=sys.stderr)
    final = fit(np.vstack([x, vx]), np.concatenate([y, vy]), np.concatenate([groups, vgroups + groups.max() + 1]))
    final = ranker.RankerModel(final.names, final.weights, final.bias, final.mean, final.scale, {
        "trained_on": {name: len(s.queries) for name, s in train_sets.items()}, "held_out_codes": len(held_codes),
        "candidates": int(len(y) + len(vy)), "pairs": final.info["pairs"], "loss": "pairwise logistic (RankNet)",
        "seed": SEED, "l2": L2, "steps": STEPS,
        "dense_model": engine.encoder.name, "seconds": round(time.monotonic() - started), **checked})
    ranker.MODEL_FILE.write_text(json.dumps(final.to_json(), indent=1) + "\n")
    print(f"ranker -> {ranker.MODEL_FILE}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
