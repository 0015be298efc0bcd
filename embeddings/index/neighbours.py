"""The Similar Codes tables of an index (hierarchy, groups, near-duplicate families) as arrays, written at build
time as .npy files that servers memory-map and share instead of recomputing them from SQLite at start."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from embeddings import groupings as gp
from embeddings.files import file_digest
from embeddings.index import format as ix
from embeddings.index.rows import HierarchyRow

if TYPE_CHECKING:
    from embeddings.index.store import IndexStore

SCHEMES = ("ccs", "ccs_level2", "ccsr", "gem")
PREFIX = "similar-"  # files similar-<name>.npy and similar.json beside the catalogue
META = "similar.json"


@dataclass(frozen=True)
class Partition:
    """Rows grouped by an integer label (-1: no group), with each group's rows in catalogue order."""
    of: np.ndarray
    starts: np.ndarray
    rows: np.ndarray

    @classmethod
    def build(cls, labels: np.ndarray, groups: int) -> "Partition":
        inside = np.flatnonzero(labels >= 0)
        order = inside[np.argsort(labels[inside], kind="stable")]
        counts = np.bincount(labels[inside], minlength=groups)
        return cls(labels, np.concatenate(([0], np.cumsum(counts))), order)

    def members(self, group: int) -> np.ndarray:
        if group < 0:
            return self.rows[:0]
        return self.rows[self.starts[group]:self.starts[group + 1]]


@dataclass(frozen=True)
class Groups:
    """A many-to-many link between rows and named groups (CCS, CCSR, an ICD-9-CM code of the GEMs)."""
    names: tuple[str, ...]
    labels: tuple[str, ...]
    row_starts: np.ndarray
    row_groups: np.ndarray
    by_group: Partition

    @classmethod
    def build(cls, n_rows: int, pairs: list[tuple[int, str]], labels: dict[str, str]) -> "Groups":
        names = tuple(sorted({name for _r, name in pairs}))
        number = {n: i for i, n in enumerate(names)}
        numbered = sorted({(r, number[n]) for r, n in pairs})
        rows = np.array([r for r, _g in numbered], dtype=np.int64)
        groups = np.array([g for _r, g in numbered], dtype=np.int64)
        counts = np.bincount(rows, minlength=n_rows) if len(rows) else np.zeros(n_rows, dtype=np.int64)
        group_order = np.argsort(groups, kind="stable")
        group_counts = np.bincount(groups, minlength=len(names))
        by_group = Partition(np.full(0, -1), np.concatenate(([0], np.cumsum(group_counts))), rows[group_order])
        return cls(names, tuple(labels.get(n, "") for n in names),
                   np.concatenate(([0], np.cumsum(counts))), groups, by_group)

    def of(self, row: int) -> np.ndarray:
        return self.row_groups[self.row_starts[row]:self.row_starts[row + 1]]

    def first(self) -> np.ndarray:
        """First group of every row (-1 for none): single-group schemes compare whole arrays at once."""
        out = np.full(len(self.row_starts) - 1, -1, dtype=np.int64)
        has = np.diff(self.row_starts) > 0
        out[has] = self.row_groups[self.row_starts[:-1][has]]
        return out


@dataclass(frozen=True)
class NeighbourTables:
    """Per-row arrays over catalogue ids 0..n-1; `grouped` says whether groupings tables fed them."""
    code: np.ndarray
    kind: np.ndarray
    parent: np.ndarray
    children: Partition
    anchor: Partition
    category: Partition
    head: np.ndarray
    family: Partition
    side: np.ndarray
    detail: np.ndarray
    pcs_chars: np.ndarray
    schemes: dict[str, Groups]
    single: dict[str, np.ndarray]
    grouped: bool


def compute(store: "IndexStore", groupings: Path | None = None, use_groupings: bool = True) -> NeighbourTables:
    """From the catalogue and groupings.sqlite (or another groupings file; none when `use_groupings` is false)."""
    rows = store.hierarchy()
    n = len(rows)
    if rows and rows[-1].id != n - 1:
        raise ValueError("catalogue row ids are not 0..n-1; rebuild the index")
    code = np.array([r.code for r in rows], dtype=object)
    kind = np.array([r.kind for r in rows], dtype=object)
    system = store.system_of
    by_code = {(r.system, r.code): r.id for r in rows}
    by_key = {(r.system, r.key): r.id for r in rows}
    parent = np.array([by_code.get((r.system, r.parent), -1) for r in rows], dtype=np.int64)
    # The anchor skips a 7th-character base (a non-billable 'code'), so S72.001A sits beside S72.002A, S72.009A.
    base_like = (kind == "code") & ~store.billable & (system == gp.CM)
    anchor = parent.copy()
    lifted = (parent >= 0) & base_like[np.maximum(parent, 0)]
    anchor[lifted] = parent[parent[lifted]]
    category = _category_labels(rows, by_code)
    tables = store.grouping_tables(SCHEMES, groupings) if use_groupings else None
    head, in_family, side, detail = _families(n, by_key, tables.families if tables else [])
    schemes = {}
    for scheme in SCHEMES:
        pairs = [(by_key[(s, k)], g) for s, k, g in (tables.schemes.get(scheme, []) if tables else []) if (s, k) in by_key]
        schemes[scheme] = Groups.build(n, pairs, tables.labels.get(scheme, {}) if tables else {})
    pcs_chars = np.zeros((n, 7), dtype=np.uint8)
    for r in rows:
        if r.system == gp.PCS and len(r.key) == 7:
            pcs_chars[r.id] = np.frombuffer(r.key.encode(), dtype=np.uint8)
    return NeighbourTables(code, kind, parent, Partition.build(parent, n), Partition.build(anchor, n),
                           Partition.build(category, n), head, Partition.build(np.where(in_family, head, -1), n),
                           side, detail, pcs_chars, schemes, {s: g.first() for s, g in schemes.items()},
                           tables is not None)


def write(tables: NeighbourTables, directory: Path) -> None:
    """The arrays as similar-*.npy, strings as numbers into similar.json's lists (read back with memory maps)."""
    arrays: dict[str, np.ndarray] = {"parent": tables.parent, "head": tables.head, "pcs_chars": tables.pcs_chars}
    strings: dict[str, list[str]] = {}
    for name in ("code", "kind", "side", "detail"):
        values, numbers = np.unique(getattr(tables, name).astype(str), return_inverse=True)
        strings[name], arrays[name] = values.tolist(), numbers.astype(np.int32)
    for name in ("children", "anchor", "category", "family"):
        part: Partition = getattr(tables, name)
        arrays |= {f"{name}.of": part.of, f"{name}.starts": part.starts, f"{name}.rows": part.rows}
    groups = {}
    for scheme, g in tables.schemes.items():
        arrays |= {f"{scheme}.row_starts": g.row_starts, f"{scheme}.row_groups": g.row_groups,
                   f"{scheme}.by_starts": g.by_group.starts, f"{scheme}.by_rows": g.by_group.rows,
                   f"{scheme}.single": tables.single[scheme]}
        groups[scheme] = {"names": list(g.names), "labels": list(g.labels)}
    for name, array in arrays.items():
        np.save(directory / f"{PREFIX}{name}.npy", np.ascontiguousarray(array), allow_pickle=False)
    (directory / META).write_text(json.dumps({"strings": strings, "groups": groups, "grouped": tables.grouped}))


def reuse(previous: Path | None, directory: Path) -> bool:
    """Link the previous build's tables into the new one when both were made from byte-identical catalogue and
    groupings files (an unchanged rebuild)."""
    if previous is None:
        return False
    try:
        old = ix.read_manifest(previous)["files"]
    except (ix.IndexLoadError, KeyError):
        return False
    for name in (ix.CATALOGUE, ix.GROUPINGS):
        here = directory / name
        if (name in old) != here.exists() or (here.exists() and file_digest(here) != old[name]["sha256"]):
            return False
    return ix.link_checked(previous, directory, sorted(n for n in old if n.startswith(PREFIX) or n == META))


def read(directory: Path) -> NeighbourTables | None:
    """The tables a build wrote, memory-mapped; None for an index built before they were written."""
    directory = Path(directory)
    if not (directory / META).exists():
        return None
    meta = json.loads((directory / META).read_text())

    def array(name: str) -> np.ndarray:
        # a plain array over the mapped pages: shared like the memmap, without its per-indexing overhead
        loaded: np.ndarray = np.asarray(np.load(directory / f"{PREFIX}{name}.npy", mmap_mode="r", allow_pickle=False))
        return loaded

    def text(name: str) -> np.ndarray:
        values: np.ndarray = np.array(meta["strings"][name], dtype=object)[array(name)]
        return values

    def part(name: str) -> Partition:
        return Partition(array(f"{name}.of"), array(f"{name}.starts"), array(f"{name}.rows"))

    schemes = {s: Groups(tuple(g["names"]), tuple(g["labels"]), array(f"{s}.row_starts"), array(f"{s}.row_groups"),
                         Partition(np.full(0, -1), array(f"{s}.by_starts"), array(f"{s}.by_rows")))
               for s, g in meta["groups"].items()}
    return NeighbourTables(text("code"), text("kind"), array("parent"), part("children"), part("anchor"),
                           part("category"), array("head"), part("family"), text("side"), text("detail"),
                           array("pcs_chars"), schemes, {s: array(f"{s}.single") for s in schemes}, meta["grouped"])


def _category_labels(rows: list[HierarchyRow], by_code: dict[tuple[str, str], int]) -> np.ndarray:
    """ICD-10-CM: the row of the 3-character category; PCS: the table; user systems: the top of the chain."""
    out = np.full(len(rows), -1, dtype=np.int64)
    for r in rows:
        if r.system == gp.CM or (r.system == gp.PCS and len(r.code) >= 3):
            out[r.id] = by_code.get((r.system, r.code[:3]), -1)
    return out


def _families(n: int, by_key: dict[tuple[str, str], int], families: list[tuple[str, str, str, str, str]]
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    head = np.arange(n, dtype=np.int64)
    in_family = np.zeros(n, dtype=bool)
    side = np.full(n, "", dtype=object)
    detail = np.full(n, "", dtype=object)
    first: dict[tuple[str, str], int] = {}
    for system, key, stem, s, d in families:
        row = by_key.get((system, key))
        if row is None:
            continue
        first[(system, stem)] = min(first.get((system, stem), row), row)
    for system, key, stem, s, d in families:
        row = by_key.get((system, key))
        if row is not None:
            head[row], side[row], detail[row] = first[(system, stem)], s, d
            in_family[row] = True
    return head, in_family, side, detail
