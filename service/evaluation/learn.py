"""`python -m service.evaluation.learn`: train the learned ranker on the training query sets, never the evaluation
ones, against the held-out index (their terms are left out of it too), and write service/search/ranker.json (or the
file MEDCODES_RANKER_FILE names)."""
from __future__ import annotations

import argparse
import dataclasses
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
from service.search import ranker, trees
from service.search.engine import DEFAULT_FEATURES, SearchEngine

SEED = 20261201
VALIDATION_SHARE = 0.2  # queries (not candidates) kept apart to check the model against RRF before it is saved
L2 = 1e-2
STEPS = 1500
LEARNING_RATE = 0.5
PAIRS_PER_QUERY = 200
NET_UNITS = 16  # hidden units; 8, 16 and 32 were tried on the validation queries (16 as good as 32, at half the time)
NET_STEPS = 800
NET_RATE = 0.01
NET_L2 = 1e-3
NET_INIT = 0.3
NET_MEMBERS = 4  # networks averaged (seeds SEED, SEED+1, ...)
# Boosted trees (LightGBM lambdarank). Tried on the validation queries: 7 or 15 leaves, 100-400 trees, rate
# 0.03-0.1 (MRR@10 0.746-0.755); 7 leaves keep each tree shallow and the model small.
TREE_PARAMS = {"objective": "lambdarank", "n_estimators": 200, "num_leaves": 7, "learning_rate": 0.05,
               "min_child_samples": 50, "subsample": 0.8, "subsample_freq": 1, "colsample_bytree": 0.8,
               "lambdarank_truncation_level": 20, "deterministic": True, "force_row_wise": True, "n_jobs": 2}
# Lay training queries count this many times in the trees' fit: they are about a ninth of the training queries, yet lay
# wording is what most users type. On the validation queries, once / twice / three / four times gave lay R@10
# 0.889 / 0.944 / 0.944 / 0.944 and CM synonyms R@10 0.831 / 0.838 / 0.825 / 0.825 (linear: 0.889, 0.838).
LAY_REPEATS = 2
# The blend adds the linear model's score and the trees' times this. Chosen by 5-fold cross-validation over the
# training queries (split by query; 2026-12-05): 0 (linear alone) / 0.5 / 1 / 2 / 3 / 5 / trees alone gave R@10 over
# all 1,739 queries 0.868 / 0.873 / 0.876 / 0.876 / 0.876 / 0.873 / 0.872 and R@1 rising from the linear model's
# towards the trees' (CM synonyms 0.477 / 0.485 / 0.500 / 0.507 / 0.509 / 0.509 / 0.508).
BLEND_TREES = 2.0


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


def standardise(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    return (x - mean) / scale, mean, scale


def pairs(y: np.ndarray, groups: np.ndarray, seed: int = SEED) -> tuple[np.ndarray, np.ndarray]:
    """(relevant, irrelevant) row pairs within each query, at most PAIRS_PER_QUERY a query, drawn with the seed."""
    rng = np.random.default_rng(seed)
    pos_rows: list[int] = []
    neg_rows: list[int] = []
    for g in np.unique(groups):
        rows = np.flatnonzero(groups == g)
        pos, neg = rows[y[rows] > 0], rows[y[rows] == 0]
        if not len(pos) or not len(neg):
            continue
        both = [(p, n) for p in pos for n in neg]
        if len(both) > PAIRS_PER_QUERY:
            both = [both[k] for k in rng.choice(len(both), PAIRS_PER_QUERY, replace=False)]
        pos_rows += [p for p, _ in both]
        neg_rows += [n for _, n in both]
    return np.array(pos_rows, dtype=np.int64), np.array(neg_rows, dtype=np.int64)


def fit(x: np.ndarray, y: np.ndarray, groups: np.ndarray, seed: int = SEED) -> ranker.RankerModel:
    """Pairwise logistic regression (RankNet with a linear scorer): within each query, a relevant candidate should
    score above an irrelevant one. Full-batch gradient descent with L2; at most PAIRS_PER_QUERY pairs a query."""
    z, mean, scale = standardise(x)
    pos, neg = pairs(y, groups, seed)
    d = z[pos] - z[neg]
    w = np.zeros(z.shape[1])
    for _ in range(STEPS):
        p = 1.0 / (1.0 + np.exp(-(d @ w)))
        w -= LEARNING_RATE * (d.T @ (p - 1.0) / len(d) + L2 * w)
    return ranker.RankerModel(ranker.FEATURES, w, 0.0, mean, scale, {"pairs": len(d)})


def fit_network(x: np.ndarray, y: np.ndarray, groups: np.ndarray, seed: int = SEED) -> ranker.RankerModel:
    """RankNet with one tanh hidden layer beside the linear part: the same pairwise loss, so features can act
    together (a dense score counts for more when the title covers the query). Full-batch Adam, L2, fixed seed."""
    z, mean, scale = standardise(x)
    pos, neg = pairs(y, groups, seed)
    zp, zn = z[pos].astype(np.float32), z[neg].astype(np.float32)  # float32 halves the time; the result is as good
    rng = np.random.default_rng(seed)
    params = [rng.normal(0.0, NET_INIT, (z.shape[1], NET_UNITS)), np.zeros(NET_UNITS),
              rng.normal(0.0, NET_INIT, NET_UNITS), np.zeros(z.shape[1])]  # hidden, hidden bias, output, linear
    params = [p.astype(np.float32) for p in params]
    moment = [np.zeros_like(p) for p in params]
    second = [np.zeros_like(p) for p in params]
    for step in range(1, NET_STEPS + 1):
        hidden, bias, output, linear = params
        hp, hn = np.tanh(zp @ hidden + bias), np.tanh(zn @ hidden + bias)
        margin = (hp - hn) @ output + (zp - zn) @ linear
        g = (1.0 / (1.0 + np.exp(-margin)) - 1.0) / len(pos)  # d loss / d margin, per pair
        dp, dn = np.outer(g, output) * (1 - hp ** 2), -np.outer(g, output) * (1 - hn ** 2)
        grads = [zp.T @ dp + zn.T @ dn + NET_L2 * hidden, dp.sum(axis=0) + dn.sum(axis=0),
                 (hp - hn).T @ g + NET_L2 * output, (zp - zn).T @ g + NET_L2 * linear]
        for k, grad in enumerate(grads):
            moment[k] = 0.9 * moment[k] + 0.1 * grad
            second[k] = 0.999 * second[k] + 0.001 * grad ** 2
            params[k] = params[k] - NET_RATE * (moment[k] / (1 - 0.9 ** step)) / (
                np.sqrt(second[k] / (1 - 0.999 ** step)) + 1e-8)
    hidden, bias, output, linear = (p.astype(np.float64) for p in params)
    return ranker.RankerModel(ranker.FEATURES, linear, 0.0, mean, scale, {"pairs": len(pos)}, hidden, bias, output)


def fit_ensemble(x: np.ndarray, y: np.ndarray, groups: np.ndarray, members: int = NET_MEMBERS) -> ranker.RankerModel:
    """The mean of `members` networks fitted from different seeds, written as one network with their hidden units
    side by side (exactly their average score). One network's validation MRR@10 moved by 0.03 with its seed."""
    nets = [fit_network(x, y, groups, SEED + k) for k in range(members)]
    return dataclasses.replace(
        nets[0], weights=np.mean([n.weights for n in nets], axis=0),
        hidden=np.hstack([n.hidden for n in nets if n.hidden is not None]),
        hidden_bias=np.concatenate([n.hidden_bias for n in nets if n.hidden_bias is not None]),
        output=np.concatenate([n.output for n in nets if n.output is not None]) / members,
        info={"pairs": nets[0].info["pairs"], "members": members})


def fit_trees(x: np.ndarray, y: np.ndarray, groups: np.ndarray, seed: int = SEED) -> ranker.RankerModel:
    """LightGBM lambdarank over the raw features (trees need no scaling), each query's candidates one group in
    their fused order; the trees are kept in the model file and scored in numpy (`trees`)."""
    import lightgbm  # only training needs it (the test extra installs it)

    starts = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1]])
    sizes = np.diff(np.r_[starts, len(groups)])
    booster = lightgbm.LGBMRanker(**TREE_PARAMS, random_state=seed, verbose=-1).fit(x, y, group=sizes).booster_
    zeros, ones = np.zeros(x.shape[1]), np.ones(x.shape[1])
    return ranker.RankerModel(ranker.FEATURES, zeros, 0.0, zeros, ones, {"trees": booster.num_trees()},
                              trees=trees.from_lightgbm(booster.dump_model()))


def fit_blend(x: np.ndarray, y: np.ndarray, groups: np.ndarray, lay: set[int] = frozenset()) -> ranker.RankerModel:
    """The linear model plus BLEND_TREES times the trees: trees lift the right code to the top more often (R@1), the
    linear model keeps it in the first ten more often (R@10 of lay wording); their sum did both best. The trees see
    the lay queries LAY_REPEATS times, as alone; the linear model once."""
    linear = fit(x, y, groups)
    boosted = fit_trees(*repeat_groups(x, y, groups, lay, LAY_REPEATS))
    return dataclasses.replace(linear, trees=boosted.trees, trees_weight=BLEND_TREES,
                               info={**linear.info, **boosted.info})


def repeat_groups(x: np.ndarray, y: np.ndarray, groups: np.ndarray, chosen: set[int],
                  times: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The chosen queries' candidates added times - 1 more times, each copy a query of its own, after the rest."""
    xs, ys, gs, nxt = [x], [y], [groups], int(groups.max()) + 1
    for g in sorted(chosen):
        rows = groups == g
        for _ in range(times - 1):
            xs.append(x[rows])
            ys.append(y[rows])
            gs.append(np.full(int(rows.sum()), nxt))
            nxt += 1
    return np.vstack(xs), np.concatenate(ys), np.concatenate(gs)


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


def heldout_engine(settings: Settings, engine: SearchEngine) -> SearchEngine:
    """The engine over the held-out index (built when missing), where the training queries' terms are unseen."""
    ho.ensure_heldout_index(settings, engine.store, heldout_sets(engine.store), engine.encoder)
    return SearchEngine(ho.open_heldout(settings, engine.store), engine.encoder, settings)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m service.evaluation.learn", description=__doc__)
    parser.add_argument("--model", choices=("trees", "linear", "network", "blend"), default="linear",
                        help="trees: LightGBM lambdarank (fit_trees); linear: pairwise logistic (fit); blend: both "
                             "added (fit_blend); network: the averaged networks (fit_ensemble), measured on the "
                             "evaluation sets and not kept")
    parser.add_argument("--network", action="store_true", help="the same as --model network")
    args = parser.parse_args(argv)
    kind = "network" if args.network else args.model
    # The blend reads which training queries are lay wording itself (fit_weighted below); the others take x, y, groups.
    fitter = {"trees": fit_trees, "linear": fit, "network": fit_ensemble}.get(kind)
    settings = Settings.from_env()
    out = ranker.configured_file(settings.ranker_file)
    # Training reads candidates and features, not the ranker it is about to write (which need not exist yet).
    settings = settings.replace(ranker_file="")
    engine = SearchEngine.open(settings)
    heldout = heldout_engine(settings, engine)
    started = time.monotonic()
    train_sets = es.train_sets(engine.store)
    held_codes = {key for s in train_sets.values() for key, _terms in s.held_out}
    queries = [query for s in train_sets.values() for query in s.queries]
    random.Random(SEED).shuffle(queries)
    cut = int(len(queries) * (1 - VALIDATION_SHARE))
    x, y, groups = collect(heldout, queries[:cut])
    vx, vy, vgroups = collect(heldout, queries[cut:])
    lay = {query.text for query in train_sets.get("train-lay", es.QuerySet("train-lay", ())).queries}
    repeats = LAY_REPEATS if kind == "trees" else 1

    def fit_weighted(x, y, groups, asked):
        chosen = {int(g) for g in np.unique(groups) if asked[int(g)].text in lay}
        if kind == "blend":
            return fit_blend(x, y, groups, chosen)
        assert fitter is not None
        return fitter(*repeat_groups(x, y, groups, chosen, repeats)) if repeats > 1 else fitter(x, y, groups)

    model = fit_weighted(x, y, groups, queries[:cut])
    checked = {"validation_queries": len(queries) - cut, "validation_mrr@10_rrf": round(mrr(vx, vy, vgroups, None), 4),
               "validation_mrr@10_model": round(mrr(vx, vy, vgroups, model), 4)}
    print(json.dumps(checked), file=sys.stderr)
    final = fit_weighted(np.vstack([x, vx]), np.concatenate([y, vy]), np.concatenate([groups, vgroups + cut]),
                         queries)
    recipe = {"network": {"loss": "pairwise logistic (RankNet), tanh hidden layer beside a linear part",
                          "units": NET_UNITS, "members": NET_MEMBERS, "l2": NET_L2, "steps": NET_STEPS,
                          "learning_rate": NET_RATE, "optimiser": "Adam"},
              "linear": {"loss": "pairwise logistic (RankNet)", "l2": L2, "steps": STEPS},
              "trees": {"loss": "LightGBM lambdarank", **TREE_PARAMS, "trees": final.info.get("trees"),
                        "lay_repeats": LAY_REPEATS},
              "blend": {"loss": "pairwise logistic (RankNet) plus LightGBM lambdarank, scores added",
                        "trees_weight": BLEND_TREES, "l2": L2, "steps": STEPS, **TREE_PARAMS,
                        "trees": final.info.get("trees"), "lay_repeats": LAY_REPEATS}}[kind]
    final = dataclasses.replace(final, info={
        "trained_on": {name: len(s.queries) for name, s in train_sets.items()}, "held_out_codes": len(held_codes),
        "candidates": int(len(y) + len(vy)), "pairs": final.info.get("pairs"), "seed": SEED, **recipe,
        "dense_model": engine.encoder.name, "seconds": round(time.monotonic() - started), **checked})
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(final.to_json(), indent=1) + "\n")
    print(f"ranker -> {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
