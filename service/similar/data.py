"""In-memory tables for Similar Codes over one index: hierarchy, groups, GEM links, near-duplicate families, vectors."""
from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

from embeddings.index import neighbours as nb
from embeddings.index.store import IndexStore


@dataclass(frozen=True)
class SimilarData:
    """The build's neighbour tables with what serving adds: the catalogue's per-row columns and the vectors."""
    directory: Path
    groupings: Path | None
    tables: nb.NeighbourTables
    system: np.ndarray
    billable: np.ndarray
    chapter: np.ndarray
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
    """The index's own tables as its build wrote them (memory-mapped), or computed here: for an index built before
    they were written, or over another groupings file (a measurement)."""
    use_file = groupings is not None and groupings.exists()
    tables = nb.read(store.directory) if groupings is None else None
    if tables is None or len(tables.code) != len(store.system_of):
        tables = nb.compute(store, groupings if use_file else None, use_file or groupings is None)
    n = len(tables.code)
    position = np.full(n, -1, dtype=np.int64)
    vectors, indexes = {}, []
    for name, ids in store.ids.items():
        position[ids] = np.arange(len(ids))
        vectors[name] = _matrix(store.dense[name])
        indexes.append(store.dense[name])
    source = (groupings if use_file else None) if groupings is not None else store.groupings_path
    return SimilarData(store.directory, source if tables.grouped else None, tables, store.system_of, store.billable,
                       store.chapter, position, vectors, tuple(indexes))


def _matrix(index: faiss.Index) -> np.ndarray:
    """The stored vectors as a read-only view (no copy) for HNSW-flat and flat indexes."""
    flat = faiss.downcast_index(index.storage) if hasattr(index, "storage") else index
    try:
        view = faiss.rev_swig_ptr(flat.get_xb(), flat.ntotal * flat.d).reshape(flat.ntotal, flat.d)
        view.flags.writeable = False
        return view
    except (AttributeError, TypeError, RuntimeError):
        return index.reconstruct_n(0, index.ntotal)
