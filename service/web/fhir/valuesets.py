"""Implicit value sets (all codes, isa/CODE, billable) and the is-a relation between two codes of one system."""
from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from service.web.fhir.params import FhirError

# `{system}?fhir_vs` (every code), `?fhir_vs=isa/CODE` (the code and everything under it), `?fhir_vs=billable`
# (codes valid on a claim) and both at once: `?fhir_vs=isa/I21;billable`.
FORMS = "SYSTEM?fhir_vs, SYSTEM?fhir_vs=isa/CODE, SYSTEM?fhir_vs=billable, SYSTEM?fhir_vs=isa/CODE;billable"


@dataclass(frozen=True)
class ValueSetRef:
    """What an implicit value set URL names: the system's URI, an optional root code and a billable-only flag."""
    system_uri: str
    root: str | None = None
    billable: bool = False

    @classmethod
    def parse(cls, url: str) -> "ValueSetRef":
        base, marker, rest = url.partition("?fhir_vs")
        if not marker or not rest:
            return cls(base)
        if not rest.startswith("="):
            raise FhirError(400, "not-supported", f"value set {url[:200]!r} is not an implicit one; use {FORMS}")
        root, billable = None, False
        for part in rest[1:].split(";"):
            if part.startswith("isa/") and len(part) > 4 and root is None:
                root = part[4:]
            elif part == "billable" and not billable:
                billable = True
            else:
                raise FhirError(400, "not-supported", f"{part[:60]!r} in {url[:200]!r} is not supported; use {FORMS}")
        return cls(base, root, billable)


def subsumption(a, b) -> str:
    """FHIR's outcome for code a against code b: equivalent, subsumes (a is above b), subsumed-by or not-subsumed."""
    if a.code == b.code:
        return "equivalent"
    if a.code in b.parents:
        return "subsumes"
    if b.code in a.parents:
        return "subsumed-by"
    return "not-subsumed"


def member(record, ref: ValueSetRef) -> bool:
    """Is the record in the value set? Under the root (or the root itself) and billable when asked for."""
    if ref.root is not None and record.code != ref.root and ref.root not in record.parents:
        return False
    return record.billable or not ref.billable


class Descendants:
    """Every row under a code, from the catalogue's parent links; built once per loaded index, on first use."""

    def __init__(self, store):
        self.store = store
        self._lock = threading.Lock()
        self._children: dict[tuple[str, str], list[int]] | None = None
        self._code_of: list[tuple[str, str]] = []

    def _build(self) -> dict[tuple[str, str], list[int]]:
        with self._lock:
            if self._children is None:
                children: dict[tuple[str, str], list[int]] = {}
                rows = self.store.hierarchy()
                self._code_of = [(r.system, r.code) for r in rows]
                for r in rows:
                    if r.parent:
                        children.setdefault((r.system, r.parent), []).append(r.id)
                self._children = children
        return self._children

    def under(self, system: str, row_id: int, billable: bool) -> np.ndarray:
        """Row ids of the code and all its descendants, in catalogue order."""
        children = self._build()
        found, stack = [row_id], [row_id]
        while stack:
            found_here = children.get(self._code_of[stack.pop()], [])
            found.extend(found_here)
            stack.extend(found_here)
        ids = np.array(sorted(found), dtype=np.int64)
        return ids[self.store.billable[ids]] if billable else ids
