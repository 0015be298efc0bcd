"""What every code-set loader shares: the CodeSet record, SourceError and locating package data files."""
from __future__ import annotations

import importlib.metadata
import importlib.util
from dataclasses import dataclass
from pathlib import Path

from embeddings.records import Code, SystemInfo


class SourceError(ValueError):
    """A source file is missing or malformed; the message names the file (and line where known)."""

    def __init__(self, path: Path | str, message: str, line: int | None = None):
        where = f"{path}:{line}" if line is not None else f"{path}"
        super().__init__(f"{where}: {message}")
        self.path, self.line = str(path), line


@dataclass(frozen=True)
class CodeSet:
    info: SystemInfo
    codes: tuple[Code, ...]


def package_file(package: str, *parts: str) -> Path:
    """Path of a data file inside an installed package, without importing the package."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise SourceError(package, f"package {package!r} is not installed; run `make run` or pip install it")
    path = Path(list(spec.submodule_search_locations)[0], *parts)
    if not path.exists():
        raise SourceError(path, f"expected data file is missing from package {package!r}")
    return path


def package_version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"
