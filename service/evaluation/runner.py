"""Evaluation runs: the methods (baselines, understanding, one ablation per feature) over the query sets."""
from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from embeddings.locate import repo_file
from embeddings.records import code_key
from service.evaluation import heldout as ho
from service.evaluation import report as eval_report
from service.evaluation import sets as es
from service.evaluation.gate import check, load_expected, pinned_profile
from service.evaluation.metrics import K, Outcome, metrics
from service.search.engine import DEFAULT_FEATURES, SearchEngine
from service.search.understanding import FEATURES


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

    @classmethod
    def from_json(cls, data: dict) -> "Report":
        outcomes = {s: {m: [Outcome(**{**o, "prefixes": tuple(o["prefixes"]), "gains": tuple(o["gains"]),
                                        "codes": tuple(o["codes"]), "titles": tuple(o["titles"])}) for o in os_]
                        for m, os_ in ms.items()} for s, ms in data["outcomes"].items()}
        return cls(data["index"], data["results"], outcomes)


# `medcodes evaluate` keeps its last full report here, so notebooks can show it without running it again.
SAVED = repo_file("data", "eval", "results", "report.json")


def save(report: Report, fingerprint: str, path: Path = SAVED) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"fingerprint": fingerprint, **report.to_json()}))
    tmp.replace(path)


def load_saved(engine: SearchEngine, path: Path = SAVED) -> Report | None:
    """The saved report when it was made on this very index (same build fingerprint), else None."""
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    if data.get("fingerprint") != engine.store.manifest.get("fingerprint"):
        return None
    return Report.from_json(data)


def index_identity(engine: SearchEngine) -> dict:
    m = engine.store.manifest
    return {"model": m["model"]["name"], "codes": m["counts"]["codes"]}


def heldout_sets(store, every: dict | None = None) -> list:
    """Every set whose terms the held-out index leaves out: the held-out evaluation sets and the ranker's
    training sets, so training queries are as unseen as the evaluation ones."""
    every = every or es.query_sets(store)
    return [s for s in every.values() if s.needs_held_out] + list(es.train_sets(store, every).values())


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
            ho.ensure_heldout_index(engine.settings, engine.store, heldout_sets(engine.store, every), engine.encoder,
                                    base, log)
        heldout_engine = SearchEngine(ho.open_heldout(engine.settings, engine.store), engine.encoder, engine.settings)
    results, outcomes = {}, {}
    for name, qset in sets.items():
        target = heldout_engine if qset.needs_held_out else engine
        results[name], outcomes[name] = {}, {}
        for method in methods(ablation):
            log(f"{name}: {method.name} on {len(qset.queries)} queries")
            outcomes[name][method.name] = run(target, qset, method)
            results[name][method.name] = metrics(outcomes[name][method.name])
    return Report(index_identity(engine), results, outcomes)


def main(args, engine: SearchEngine) -> int:
    """`medcodes evaluate [--set NAME] [--json]`: the table, then OK/FAIL against the pinned figures."""
    ablation = getattr(args, "ablation", True)
    report = evaluate_index(engine, tuple(args.sets or es.SET_NAMES), ablation=ablation)
    if not args.sets and ablation:
        save(report, engine.store.manifest.get("fingerprint", ""))
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
