"""FAISS indexes per system: built from normalised vectors, read back with their id sidecars."""
from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np

from embeddings.index.format import IndexLoadError, dense_file, ids_file

# Below this many vectors an exact flat index is as fast as HNSW and has perfect recall.
HNSW_MIN_VECTORS = 2000


def build_dense(vectors: np.ndarray, kind: str, m: int = 32, ef_construction: int = 80,
                min_hnsw: int = HNSW_MIN_VECTORS) -> faiss.Index:
    """Inner product on normalised vectors (= cosine). HNSW for speed at full size, flat where exact is wanted."""
    dim = vectors.shape[1]
    index: faiss.Index
    if kind == "flat" or len(vectors) < min_hnsw:
        index = faiss.IndexFlatIP(dim)
    elif kind == "hnsw":
        hnsw = faiss.IndexHNSWFlat(dim, m, faiss.METRIC_INNER_PRODUCT)
        hnsw.hnsw.efConstruction = ef_construction
        index = hnsw
    else:
        raise ValueError(f"unknown index type {kind!r}; use 'hnsw' or 'flat'")
    index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


def write_dense(directory: Path, system: str, index: faiss.Index, rows: np.ndarray) -> None:
    faiss.write_index(index, str(directory / dense_file(system)))
    np.save(directory / ids_file(system), rows)


def read_dense(directory: Path, system: str, ef_search: int) -> tuple[faiss.Index, np.ndarray]:
    """The system's FAISS index (efSearch set when it is HNSW) and the catalogue row id of each vector."""
    path = str(directory / dense_file(system))
    try:
        # The vectors are memory-mapped, not copied: every worker (and replica) on this machine reads the same
        # page-cache pages, and a pruned build's file stays readable while it is mapped.
        index = faiss.read_index(path, faiss.IO_FLAG_MMAP_IFC)
    except RuntimeError:
        try:
            index = faiss.read_index(path)
        except RuntimeError:
            raise IndexLoadError(f"{dense_file(system)} in {directory.name} cannot be read; "
                                 "rebuild with `medcodes build`.") from None
    if hasattr(index, "hnsw"):
        index.hnsw.efSearch = ef_search
    return index, np.load(directory / ids_file(system))
