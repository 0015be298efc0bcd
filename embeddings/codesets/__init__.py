"""Code-set registry: one loader per built-in system, each returning a CodeSet of frozen Code records."""
from __future__ import annotations

from pathlib import Path

from embeddings.codesets import custom, icd10cm, icd10pcs
from embeddings.codesets.base import CodeSet, SourceError, package_file, package_version

BUILTIN_SYSTEMS = ("icd10cm", "icd10pcs")
_LOADERS = {"icd10cm": icd10cm.load, "icd10pcs": icd10pcs.load}
__all__ = ["BUILTIN_SYSTEMS", "CodeSet", "SourceError", "custom", "icd10cm", "icd10pcs", "load_codeset",
           "package_file", "package_version"]


def load_codeset(name: str, source: Path | None = None) -> CodeSet:
    """Load a built-in system from its package data, or from an official release file at `source`."""
    if name not in _LOADERS:
        raise ValueError(f"unknown code system {name!r}; built-in systems are {', '.join(BUILTIN_SYSTEMS)}")
    return _LOADERS[name](source)
