"""Code-set registry: one loader per built-in system, each returning a CodeSet of frozen Code records."""
from __future__ import annotations

from pathlib import Path

from embeddings.codesets import custom, icd9, icd10cm, icd10pcs, msdrg
from embeddings.codesets.base import CodeSet, SourceError, package_file, package_version

# The current code sets first: they are what a search of all systems means. ICD-9-CM (retired) and MS-DRG are
# searched when named.
BUILTIN_SYSTEMS = ("icd10cm", "icd10pcs", "icd9cm", "icd9pcs", "msdrg")
CURRENT_SYSTEMS = ("icd10cm", "icd10pcs")
_LOADERS = {"icd10cm": icd10cm.load, "icd10pcs": icd10pcs.load, "icd9cm": icd9.load_dx, "icd9pcs": icd9.load_sg,
            "msdrg": msdrg.load}
__all__ = ["BUILTIN_SYSTEMS", "CURRENT_SYSTEMS", "CodeSet", "SourceError", "custom", "icd9", "icd10cm", "icd10pcs",
           "load_codeset", "msdrg", "package_file", "package_version"]


def load_codeset(name: str, source: Path | None = None) -> CodeSet:
    """Load a built-in system from its package data, or from an official release file at `source`."""
    if name not in _LOADERS:
        raise ValueError(f"unknown code system {name!r}; built-in systems are {', '.join(BUILTIN_SYSTEMS)}")
    return _LOADERS[name](source)
