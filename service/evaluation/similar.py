"""Measuring Similar Codes on a fixed sample of billable codes: the blended list against plain FAISS neighbours."""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from embeddings.locate import repo_root
from embeddings.settings import Settings
from service.search.engine import SearchEngine
from service.similar import relations as rel
from service.similar.data import similar_data
from service.similar.rank import neighbours, similar_codes

SAMPLE = 500
SEED = 4
LIMIT = 10
METHODS = ("neighbours", "blended")


@dataclass(frozen=True)
class ListMeasure:
    """Shares are over all suggestions of all sampled codes; same_ccs only over codes that have a CCS group."""
    system: str
    method: str
    codes: int
    suggestions: int
    same_ccs: float
    near_duplicates: float
    structural: float
    mean_ms: float
    p95_ms: float

    def to_dict(self) -> dict:
        return asdict(self)


def open_engine(settings: Settings | None = None):
    """The engine over MEDCODES_INDEX_DIR; a relative path not found here is taken from the repository root,
    so the notebook finds data/index whether it runs in the repository or in notebooks/."""
    settings = settings or Settings.from_env()
    index = Path(settings.index_dir)
    if not index.is_absolute() and not index.exists():
        settings = settings.replace(index_dir=repo_root() / index)
    return SearchEngine.open(settings)


def sample_codes(store, system: str, n: int = SAMPLE, seed: int = SEED) -> list[str]:
    """A fixed random sample of the system's billable codes (the same codes for every method)."""
    ids = store.ids[system]
    billable = ids[store.billable[ids]]
    picked = np.random.default_rng(seed).choice(len(billable), size=min(n, len(billable)), replace=False)
    rows = store.rows([int(r) for r in np.sort(billable[picked])])
    return [rows[r].code for r in sorted(rows)]


def suggested_rows(engine, system: str, code: str, method: str, limit: int = LIMIT) -> list[int]:
    store = engine.store
    if method == "neighbours":
        data = similar_data(store)
        return [int(r) for r in neighbours(data, store, store.code_id(system, code), limit)]
    if method == "blended":
        return [store.code_id(s.system, s.code) for s in similar_codes(engine, system, code, limit)]
    raise ValueError(f"method must be one of {', '.join(METHODS)}")


def judge(data, q: int, rows: list[int]) -> dict[str, np.ndarray]:
    """Per suggestion: same CCS group as the query, near-duplicate, at least one structural link."""
    rows_array = np.asarray(rows, dtype=np.int64)
    flags = rel.features(data, q, rows_array)
    seen = {int(data.tables.head[q])}
    near = []
    for row in rows_array:
        near.append(int(data.tables.head[row]) in seen)
        seen.add(int(data.tables.head[row]))
    return {"same_ccs": flags["ccs"], "near_duplicate": np.array(near, dtype=bool),
            "structural": rel.structural(flags)}


def measure(engine, systems: list[str] | None = None, n: int = SAMPLE, seed: int = SEED,
            limit: int = LIMIT, groupings: Path | None = None) -> list[ListMeasure]:
    """`groupings` names a groupings file for an index built before the build wrote one."""
    store = engine.store
    data = similar_data(store, groupings)  # loaded before timing starts
    out = []
    for system in systems or list(store.scope):  # the current code sets: CCS groups exist for them
        codes = sample_codes(store, system, n, seed)
        for method in METHODS:
            counts = {"same_ccs": 0, "ccs_suggestions": 0, "near_duplicate": 0, "structural": 0, "all": 0}
            times = []
            for code in codes:
                started = time.perf_counter()
                rows = suggested_rows(engine, system, code, method, limit)
                times.append((time.perf_counter() - started) * 1000)
                q = store.code_id(system, code)
                verdict = judge(data, q, rows)
                counts["all"] += len(rows)
                counts["near_duplicate"] += int(verdict["near_duplicate"].sum())
                counts["structural"] += int(verdict["structural"].sum())
                if data.tables.single["ccs"][q] >= 0:
                    counts["ccs_suggestions"] += len(rows)
                    counts["same_ccs"] += int(verdict["same_ccs"].sum())
            out.append(ListMeasure(
                system, method, len(codes), counts["all"], _share(counts["same_ccs"], counts["ccs_suggestions"]),
                _share(counts["near_duplicate"], counts["all"]), _share(counts["structural"], counts["all"]),
                round(float(np.mean(times)), 2) if times else 0.0,
                round(float(np.percentile(times, 95)), 2) if times else 0.0))
    return out


def _share(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def check(measures: list[ListMeasure]) -> list[str]:
    """The issue's bar, per system: fewer near-duplicates and more same-CCS suggestions than plain neighbours."""
    problems = []
    by = {(m.system, m.method): m for m in measures}
    for system in dict.fromkeys(m.system for m in measures):
        plain, blended = by.get((system, "neighbours")), by.get((system, "blended"))
        if plain is None or blended is None:
            continue
        if blended.near_duplicates >= plain.near_duplicates and plain.near_duplicates > 0:
            problems.append(f"{system}: near-duplicates {blended.near_duplicates:.1%} not below {plain.near_duplicates:.1%}")
        if blended.same_ccs <= plain.same_ccs and plain.same_ccs < 1:
            problems.append(f"{system}: same-CCS {blended.same_ccs:.1%} not above {plain.same_ccs:.1%}")
    return problems


def markdown(measures: list[ListMeasure]) -> str:
    lines = ["| system | method | codes | suggestions | same CCS group | near-duplicates | ≥1 structural reason "
             "| mean ms | p95 ms |", "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for m in measures:
        lines.append(f"| {m.system} | {m.method} | {m.codes} | {m.suggestions} | {m.same_ccs:.1%} | "
                     f"{m.near_duplicates:.1%} | {m.structural:.1%} | {m.mean_ms:.2f} | {m.p95_ms:.2f} |")
    return "\n".join(lines)


def examples(engine, system: str, n: int = 2, seed: int = SEED, limit: int = 5) -> str:
    """A markdown list of the blended suggestions for the first sampled codes, with their reasons."""
    lines = []
    for code in sample_codes(engine.store, system, n, seed):
        title = engine.store.record(system, code).title
        lines.append(f"**{system} {code}** {title}\n")
        for s in similar_codes(engine, system, code, limit):
            also = f" ({s.also})" if s.also else ""
            lines.append(f"- {s.code} {s.title}{also}: *{'; '.join(s.reasons)}*")
        lines.append("")
    return "\n".join(lines)


def summary(measures: list[ListMeasure]) -> str:
    """The closing note: each system's figures in one sentence, and whether the issue's bar is met."""
    by = {(m.system, m.method): m for m in measures}
    lines = []
    for system in dict.fromkeys(m.system for m in measures):
        plain, blended = by.get((system, "neighbours")), by.get((system, "blended"))
        if plain is None or blended is None:
            continue
        lines.append(
            f"- **{system}** ({blended.codes} codes): same CCS group {plain.same_ccs:.1%} → {blended.same_ccs:.1%}; "
            f"near-duplicates {plain.near_duplicates:.1%} → {blended.near_duplicates:.1%}; at least one structural "
            f"reason {plain.structural:.1%} → {blended.structural:.1%}; blended list {blended.mean_ms:.1f} ms mean, "
            f"{blended.p95_ms:.1f} ms p95 in-process.")
    problems = check(measures)
    lines.append("\nThe blended list meets the bar (fewer near-duplicates, more same-group suggestions)."
                 if not problems else "\nNot met: " + "; ".join(problems))
    return "\n".join(lines)


def plot(measures: list[ListMeasure]):
    """Bar chart of the three shares, one panel per system; None when matplotlib is not installed."""
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        return None

    systems = list(dict.fromkeys(m.system for m in measures))
    fig, axes = plt.subplots(1, len(systems), figsize=(5 * len(systems), 3.2), squeeze=False)
    metrics = (("same_ccs", "same CCS"), ("near_duplicates", "near-dup"), ("structural", "structural"))
    for ax, system in zip(axes[0], systems):
        for k, method in enumerate(METHODS):
            m = next((x for x in measures if x.system == system and x.method == method), None)
            if m is None:
                continue
            xs = np.arange(len(metrics)) + (k - 0.5) * 0.38
            ax.bar(xs, [getattr(m, name) for name, _ in metrics], width=0.38, label=method)
        ax.set_xticks(np.arange(len(metrics)), [label for _, label in metrics])
        ax.set_ylim(0, 1)
        ax.set_title(system)
        ax.legend(fontsize=8)
    fig.tight_layout()
    plt.close(fig)  # the notebook shows the returned figure once, not again through pyplot's inline hook
    return fig
