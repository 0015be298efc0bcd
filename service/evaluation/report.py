"""Evaluation output: text and Markdown tables, the gate verdict, plots, failure tables and notebook execution."""
from __future__ import annotations

from service.evaluation.metrics import by_kind, recall_curve

COLUMNS = (("R@1", "recall@1"), ("R@5", "recall@5"), ("R@10", "recall@10"), ("MRR@10", "mrr@10"),
           ("nDCG@10", "ndcg@10"), ("p50 ms", "p50_ms"), ("p95 ms", "p95_ms"), ("n", "queries"))


def _rows(results: dict, only=None) -> list[list[str]]:
    rows = []
    for set_name, by_method in results.items():
        for method, m in by_method.items():
            if only is None or method in only:
                rows.append([set_name, method] + [_fmt(m.get(key)) for _label, key in COLUMNS])
    return rows


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.3f}" if value <= 1 else f"{value:.1f}"
    return str(value)


def text_table(results: dict, only=None) -> str:
    header = ["set", "method"] + [label for label, _key in COLUMNS]
    rows = [header] + _rows(results, only)
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
                     for r in rows)


def markdown_table(results: dict, only=None) -> str:
    header = ["set", "method"] + [label for label, _key in COLUMNS]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in _rows(results, only)]
    return "\n".join(lines)


def ablation_table(results: dict, metric: str = "recall@10", base: str = "hybrid+qu") -> str:
    """Markdown: each ablation's change in `metric` against the full query understanding, per set."""
    names = [m for m in next(iter(results.values()), {}) if m.startswith(base + " ")]
    lines = [f"| change to {base} | " + " | ".join(f"{s} Δ{metric}" for s in results) + " |",
             "|" + "---|" * (len(results) + 1)]
    for name in names:
        cells = [f"{results[s][name][metric] - results[s][base][metric]:+.3f}" for s in results]
        lines.append(f"| {name[len(base) + 1:]} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def kind_table(outcomes_by_method: dict, methods=("bm25", "dense", "hybrid", "hybrid+qu"),
               metric: str = "recall@10") -> str:
    """Markdown: `metric` per query kind (rows) and method (columns) for one query set."""
    per = {m: by_kind(outcomes_by_method[m]) for m in methods}
    kinds = list(next(iter(per.values())))
    lines = ["| kind | n | " + " | ".join(methods) + " |", "|" + "---|" * (len(methods) + 2)]
    for kind in kinds:
        n = per[methods[0]][kind]["queries"]
        lines.append(f"| {kind} | {n} | " + " | ".join(f"{per[m][kind][metric]:.3f}" for m in methods) + " |")
    return "\n".join(lines)


def gate_text(checks, profile: str | None, identity: dict) -> str:
    if profile is None:
        return (f"regression gate: no pinned figures for this index ({identity['model']}, {identity['codes']:,} codes); "
                "pin them with `python -m service.evaluation.report --pin NAME`")
    failed = [c for c in checks if not c.ok]
    lines = [f"FAIL {c.set} {c.method} {c.metric}: {c.got:.4f} < pinned {c.pinned:.4f} - 0.01" for c in failed]
    lines.append(f"regression gate ({profile}): {'FAIL' if failed else 'OK'} "
                 f"({len(checks) - len(failed)}/{len(checks)} metrics within 1 point of the pinned figures)")
    return "\n".join(lines)


def failures(outcomes: list, limit: int = 25, top: int = 3) -> str:
    """Markdown table of queries with no relevant code in the top 10, with what came back instead."""
    lines = ["| query | kind | accepted | top results |", "|---|---|---|---|"]
    for o in [o for o in outcomes if not o.rank][:limit]:
        got = "; ".join(f"{c} {t[:50]}" for c, t in zip(o.codes[:top], o.titles[:top]))
        lines.append(f"| {o.text} | {o.kind} | {' '.join(o.prefixes)} | {got.replace('|', '/')} |")
    return "\n".join(lines)


def plot_recall_curves(report, methods=("bm25", "dense", "hybrid", "hybrid+qu")):
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, len(report.outcomes), figsize=(4.5 * len(report.outcomes), 3.6), squeeze=False)
    for ax, (set_name, by_method) in zip(axes[0], report.outcomes.items()):
        for method in methods:
            curve = recall_curve(by_method[method])
            ax.plot(range(1, len(curve) + 1), curve, marker="o", markersize=3, label=method)
        ax.set(title=set_name, xlabel="k", ylabel="Recall@k", ylim=(0, 1.02))
        ax.grid(alpha=0.3)
    axes[0][0].legend(loc="lower right")
    fig.tight_layout()
    return fig


def plot_latency(report, methods=("bm25", "dense", "hybrid", "hybrid+qu")):
    """Histogram of per-query latency over all sets; the x axis stops at the 99th percentile of all methods."""
    import matplotlib.pyplot as plt
    times = {m: [o.ms for by_method in report.outcomes.values() for o in by_method[m]] for m in methods}
    every = sorted(t for ts in times.values() for t in ts)
    top = every[int(0.99 * (len(every) - 1))] if every else 1.0
    fig, ax = plt.subplots(figsize=(7, 3.6))
    for method in methods:
        ax.hist(times[method], bins=40, range=(0, top), histtype="step", linewidth=1.5, label=method)
    ax.set(xlabel="query latency (ms, in-process; axis cut at the 99th percentile)", ylabel="queries")
    ax.legend()
    fig.tight_layout()
    return fig
