"""Notebook execution (headless, for the tests and for refreshing the kept outputs) and the pin/refresh command."""
from __future__ import annotations

import argparse
import os
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from embeddings.locate import repo_file
from embeddings.settings import Settings
from service.evaluation import gate, runner
from service.evaluation import report as eval_report
from service.evaluation import sets as es
from service.search.engine import SearchEngine

NOTEBOOK = repo_file("notebooks", "evaluation.ipynb")
_PATHS = ("MEDCODES_INDEX_DIR", "MEDCODES_CACHE_DIR")


def execute_notebook(path: Path = NOTEBOOK, env: dict | None = None, save_to: Path | None = None,
                     timeout: int = 1800):
    """Run every cell headlessly (nbclient) with `env` set for the kernel; optionally save the executed copy."""
    notebook = nbformat.read(path, as_version=4)
    # The kernel runs in the notebook's folder: relative index and cache paths are made absolute here first, so
    # the notebook reads this index and writes no cache under notebooks/.
    env = {**{k: os.environ[k] for k in _PATHS if k in os.environ}, **(env or {})}
    env = {k: str(Path(v).absolute()) if k in _PATHS else v for k, v in env.items()}
    settings = Settings.from_env()
    env.setdefault("MEDCODES_INDEX_DIR", str(Path(settings.index_dir).absolute()))
    env.setdefault("MEDCODES_CACHE_DIR", str(Path(settings.cache_dir).absolute()))
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                       resources={"metadata": {"path": str(Path(path).parent)}}).execute()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    if save_to:
        nbformat.write(notebook, save_to)
    return notebook


def cli(argv=None) -> int:
    """`python -m service.evaluation.notebook [--pin NAME] [--saved] [--notebook] [--set NAME]`: evaluate (or read the
    saved report), pin figures, run the notebook."""
    p = argparse.ArgumentParser(prog="python -m service.evaluation.notebook")
    p.add_argument("--pin", metavar="PROFILE", help="write this run's figures to data/eval/expected.json")
    p.add_argument("--notebook", action="store_true", help="execute notebooks/evaluation.ipynb in place")
    p.add_argument("--set", dest="sets", action="append")
    p.add_argument("--saved", action="store_true",
                   help="use the report `medcodes evaluate` saved for this index instead of evaluating again")
    args = p.parse_args(argv)
    if args.notebook and not args.pin:
        return _execute()
    engine = SearchEngine.open(Settings.from_env())
    saved = runner.load_saved(engine) if args.saved else None
    if args.saved and saved is None:
        print(f"error: no saved report for this index at {runner.SAVED}; run `medcodes evaluate` first")
        return 2
    report = saved or runner.evaluate_index(engine, tuple(args.sets or es.SET_NAMES))
    print(eval_report.text_table(report.results))
    if args.pin:
        gate.pin(report, args.pin)
        print(f"pinned as {args.pin!r} in {gate.EXPECTED}")
    return _execute() if args.notebook else 0


def _execute() -> int:
    execute_notebook(save_to=NOTEBOOK)
    print(f"executed {NOTEBOOK}")
    return 0


if __name__ == "__main__":
    raise SystemExit(cli())
