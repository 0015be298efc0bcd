"""In-memory tables for Similar Codes over one index: hierarchy, groups, GEM links, near-duplicate families, vectors."""
from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

from embeddings import groupings as gp
from embeddings.index.store import IndexStore

SCHEMES = ("ccs", "ccs_level2", "ccsr", "gem")


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
        pairs = sorted({(r, number[n]) for r, n in pairs})
        rows = np.array([r for r, _g in pairs], dtype=np.int64)
        groups = np.array([g for _r, g in pairs], dtype=np.int64)
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
class SimilarData:
    directory: Path
    groupings: Path | None
    code: np.ndarray
    kind: np.ndarray
    system: np.ndarray
    billable: np.ndarray
    chapter: np.ndarray
    parent: np.ndarray
    children: Partition
    anchor: Partition
    category: Partition
    head: np.ndarray
    family: Partition
    side: np.ndarray
    detail: np.ndarray
    pcs_chars: np.ndarray
    schemes: dict
    single: dict
    position: np.ndarray
    vectors: dict
    indexes: tuple

    def vector(self, row: int) -> np.ndarray:
        return self.vectors[self.system[row]][self.position[row]]

    def cosine(self, row: int, rows: np.ndarray) -> np.ndarray:
        matrix = self.vectors[self.system[row]]
        return matrix[self.position[rows]] @ matrix[self.position[row]]


_CACHE: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def similar_data(store: IndexStore, groupings: Path | None = None) -> SimilarData:
    """Load once per opened index; `groupings` names another groupings file (an index built without one)."""
    with _LOCK:
        cached = _CACHE.get(store)
        wanted = (Path(groupings) if Path(groupings).exists() else None) if groupings else store.groupings_path
        if cached is None or (groupings is not None and cached.groupings != wanted):
            cached = load(store, Path(groupings) if groupings else None)
            _CACHE[store] = cached
        return cached


def load(store: IndexStore, groupings: Path | None = None) -> SimilarData:
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
    use_file = groupings is not None and groupings.exists()
    tables = store.grouping_tables(SCHEMES, groupings if use_file else None) \
        if (use_file or groupings is None) else None
    head, in_family, side, detail = _families(n, by_key, tables.families if tables else [])
    schemes = {}
    for scheme in SCHEMES:
        pairs = [(by_key[(s, k)], g) for s, k, g in (tables.schemes.get(scheme, []) if tables else []) if (s, k) in by_key]
        schemes[scheme] = Groups.build(n, pairs, tables.labels.get(scheme, {}) if tables else {})
    position = np.full(n, -1, dtype=np.int64)
    vectors, indexes = {}, []
    for name, ids in store.ids.items():
        position[ids] = np.arange(len(ids))
        vectors[name] = _matrix(store.dense[name])
        indexes.append(store.dense[name])
    pcs_chars = np.zeros((n, 7), dtype=np.uint8)
    for r in rows:
        if r.system == gp.PCS and len(r.key) == 7:
            pcs_chars[r.id] = np.frombuffer(r.key.encode(), dtype=np.uint8)
    source = (groupings if use_file else None) if groupings is not None else store.groupings_path
    return SimilarData(
        store.directory, source if tables is not None else None, code, kind, system, store.billable,
        store.chapter, parent, Partition.build(parent, n), Partition.build(anchor, n),
        Partition.build(category, n), head, Partition.build(np.where(in_family, head, -1), n),
        side, detail, pcs_chars, schemes, {s: g.first() for s, g in schemes.items()}, position, vectors,
        tuple(indexes))


def _category_labels(rows, by_code) -> np.ndarray:
    """ICD-10-CM: the row of the 3-character category; PCS: the table; user systems: the top of the chain."""
    out = np.full(len(rows), -1, dtype=np.int64)
    for r in rows:
        if r.system == gp.CM or (r.system == gp.PCS and len(r.code) >= 3):
            out[r.id] = by_code.get((r.system, r.code[:3]), -1)
    return out


def _families(n, by_key, families) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
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


def _matrix(index: faiss.Index) -> np.ndarray:
    """The stored vectors as a read-only view (no copy) for HNSW-flat and flat indexes."""
    flat = faiss.downcast_index(index.storage) if hasattr(index, "storage") else index
    try:
        view = faiss.rev_swig_ptr(flat.get_xb(), flat.ntotal * flat.d).reshape(flat.ntotal, flat.d)
        view.flags.writeable = False
        return view
    except (AttributeError, TypeError, RuntimeError):
        return index.reconstruct_n(0, index.ntotal)
