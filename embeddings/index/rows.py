"""The named rows reads of a built index return: catalogue rows, hierarchy rows, GEM lines, grouping tables."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence


@dataclass(frozen=True)
class CodeRow:
    """One catalogue row without its full record: enough for a result list, a child list or a filter."""
    id: int
    system: str
    code: str
    title: str
    billable: bool
    kind: str
    chapter: str
    parent: str


@dataclass(frozen=True)
class HierarchyRow:
    id: int
    system: str
    code: str
    key: str
    parent: str
    kind: str


@dataclass(frozen=True)
class GemRow:
    """One GEM line of a code: the ICD-9-CM code, its title, direction and flags."""
    icd9: str
    title: str
    direction: str
    approximate: bool
    combination: bool


@dataclass(frozen=True)
class GroupingTables:
    """Everything groupings.sqlite holds, read once: (system, key, group) pairs per scheme, labels, families."""
    schemes: dict[str, list[tuple[str, str, str]]]
    labels: dict[str, dict[str, str]]
    families: list[tuple[str, str, str, str, str]]


def code_row(r: Sequence[Any]) -> CodeRow:
    return CodeRow(int(r[0]), r[1], r[2], r[3], bool(r[4]), r[5], r[6], r[7])


@dataclass(frozen=True)
class KeyRow:
    id: int
    key: str
