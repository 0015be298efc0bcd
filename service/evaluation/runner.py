"""Retrieval evaluation: methods, BEIR-style metrics with prefix relevance, the ablation and the regression gate."""
from __future__ import annotations

import json
import math
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from embeddings.locate import repo_file

from embeddings.records import code_key
from service.evaluation import sets as es
from service.search.engine import DEFAULT_FEATURES, SearchEngine
from service.search.understanding import FEATURES

K = 10
GATED = ("recall@1", "recall@5", "recall@10", "mrr@10", "ndcg@10")
EXPECTED = repo_file("data", "eval", "expected.json")
TOLERANCE = 0.01  # one point on the 0-1 scale


@dataclass(frozen=True)
class Method:
    name: str
    mode: str
    features: frozenset[str]


def methods(ablation: bool = True) -> list[Method]:
    """The three baselines, the engine's default understanding on each path, and one ablation per feature."""
    none = frozenset()
    found = [Method("bm25", "lexical", none), Method("dense", "dense", none), Method("hybrid", "hybrid", none),
             Method("bm25+qu", "lexical", DEFAULT_FEATURES), Method("dense+qu", "dense", DEFAULT_FEATURES),
             Method("hybrid+qu", "hybrid", DEFAULT_FEATURES)]
    if ablation:
        for f in FEATURES:
            name = f"hybrid+qu -{f}" if f in DEFAULT_FEATURES else f"hybrid+qu +{f}"
            found.append(Method(name, "hybrid", DEFAULT_FEATURES ^ {f}))
    return found


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


def is_relevant(system: str, code: str, query: es.Query) -> bool:
    return system == query.system and code_key(code).startswith(query.prefixes)


def relevant_count(engine: SearchEngine, query: es.Query, cap: int = K) -> int:
    return engine.store.count_prefixed(query.system, query.prefixes, cap)


def run(engine: SearchEngine, qset: es.QuerySet, method: Method, k: int = K, filter_system: bool = False,
        warmup: int = 3) -> list[Outcome]:
    """Every query of the set through engine.search; timings include encoding (the query cache starts empty)."""
    for query in qset.queries[:warmup]:  # first touches of the SQLite pages and FAISS graph are not timed
        engine.search(query.text, limit=k, mode=method.mode, features=method.features)
    engine.clear_query_cache()
    outcomes = []
    for query in qset.queries:
        started = time.perf_counter()
        result = engine.search(query.text, query.system if filter_system else None, limit=k, mode=method.mode,
                               features=method.features)
        ms = (time.perf_counter() - started) * 1000
        gains = tuple(int(is_relevant(h.system, h.code, query)) for h in result.hits)
        rank = gains.index(1) + 1 if 1 in gains else 0
        outcomes.append(Outcome(query.qid, query.text, query.kind, query.prefixes, rank, gains,
                                relevant_count(engine, query, k), tuple(h.code for h in result.hits),
                                tuple(h.title for h in result.hits), round(ms, 3), result.did_you_mean))
    return outcomes


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


def evaluate(engine: SearchEngine, qset: es.QuerySet, method: Method, **kwargs) -> dict:
    """The library call: one method on one query set, returned as a dict of metrics."""
    return metrics(run(engine, qset, method, **kwargs))


@dataclass(frozen=True)
class Report:
    index: dict  # model and code count of the main index, to match pinned figures
    results: dict  # set -> method -> metrics
    outcomes: dict  # set -> method -> [Outcome]

    def to_json(self) -> dict:
        return {"index": self.index, "results": self.results,
                "outcomes": {s: {m: [asdict(o) for o in os_] for m, os_ in ms.items()}
                             for s, ms in self.outcomes.items()}}


def index_identity(engine: SearchEngine) -> dict:
    m = engine.store.manifest
    return {"model": m["model"]["name"], "codes": m["counts"]["codes"]}


def evaluate_index(engine: SearchEngine, names=es.SET_NAMES, ablation: bool = True, base=None,
                   build_heldout: bool = True, log=lambda m: print(m, file=sys.stderr)) -> Report:
    """All methods on the named sets: held-out sets on the held-out index, the rest on `engine`.

    With build_heldout the held-out index is built when missing or stale (the CLI); without, it must exist
    (notebooks only read, after `medcodes evaluate` built it).
    """
    every = es.query_sets(engine.store, tuple(dict.fromkeys(tuple(names) + es.SET_NAMES)))
    sets = {name: every[name] for name in names}
    heldout_engine = None
    if any(s.needs_held_out for s in sets.values()):
        # The held-out index always leaves out the terms of every held-out set, so one build serves them all.
        if build_heldout:
            held_sets = [s for s in every.values() if s.needs_held_out]
            es.ensure_heldout_index(engine.settings, engine.store, held_sets, engine.encoder, base, log)
        heldout_engine = SearchEngine(es.open_heldout(engine.settings, engine.store), engine.encoder, engine.settings)
    results, outcomes = {}, {}
    for name, qset in sets.items():
        target = heldout_engine if qset.needs_held_out else engine
        results[name], outcomes[name] = {}, {}
        for method in methods(ablation):
            log(f"{name}: {method.name} on {len(qset.queries)} queries")
            outcomes[name][method.name] = run(target, qset, method)
            results[name][method.name] = metrics(outcomes[name][method.name])
    return Report(index_identity(engine), results, outcomes)


# -- pinned figures and the regression gate ----------------------------------------------------------
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


def pin(report: Report, profile: str, path: Path = EXPECTED) -> None:
    """Write the gated figures of `report` as the expected figures for this index (model, code count)."""
    expected = load_expected(path)
    expected.setdefault("tolerance", TOLERANCE)
    expected["profiles"][profile] = {"index": report.index, "results": {
        s: {m: {k: v for k, v in r.items() if k in GATED} for m, r in ms.items()} for s, ms in report.results.items()}}
    path.write_text(json.dumps(expected, indent=1, sort_keys=True) + "\n")


def main(args, engine: SearchEngine) -> int:
    """`medcodes evaluate [--set NAME] [--json]`: the table, then OK/FAIL against the pinned figures."""
    from service.evaluation import report as eval_report
    report = evaluate_index(engine, tuple(args.sets or es.SET_NAMES))
    found = pinned_profile(load_expected(), report.index)
    checks = check(report.results, found[1]["results"]) if found else []
    if args.json:
        print(json.dumps({"index": report.index, "results": report.results,
                          "gate": {"profile": found[0] if found else None,
                                   "failed": [asdict(c) for c in checks if not c.ok]}}))
    else:
        print(eval_report.text_table(report.results))
        print(eval_report.gate_text(checks, found[0] if found else None, report.index))
    return 1 if any(not c.ok for c in checks) else 0
