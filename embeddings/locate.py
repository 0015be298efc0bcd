"""Where the repository's own data lives (query sets, pinned figures, notebooks), from any working directory."""
from __future__ import annotations

import os
from pathlib import Path

PACKAGE_ROOT = Path(__file__).resolve().parent
ENV = "MEDCODES_REPO"


def repo_root() -> Path:
    """MEDCODES_REPO when set; else the checkout holding this package (editable install); else the nearest
    directory at or above the working directory that has data/eval (a non-editable install run in a checkout)."""
    named = os.environ.get(ENV)
    if named:
        return Path(named).resolve()
    for candidate in (PACKAGE_ROOT.parent, *[Path.cwd(), *Path.cwd().parents]):
        if (candidate / "data" / "eval").is_dir():
            return candidate
    return PACKAGE_ROOT.parent  # not found: paths below it name the file a reader then reports missing


def repo_file(*parts: str) -> Path:
    """A path inside the repository, such as repo_file('data', 'eval', 'expected.json')."""
    return repo_root().joinpath(*parts)
