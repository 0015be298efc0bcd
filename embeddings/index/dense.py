"""FAISS indexes per system: built from normalised vectors, read back with their id sidecars."""
from __future__ import annotations

import hashlib
from pathlib import Path

import faiss
import numpy as np

from embeddings.index.format import IndexLoadError, dense_file, ids_file, link_checked, read_manifest

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


def search(index: faiss.Index, vectors: np.ndarray, k: int, beam: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(scores, positions) of the k nearest to each vector; `beam` > 0 is this search's HNSW beam width in place of
    the index's own efSearch (a flat index ignores it)."""
    if beam > 0 and hasattr(index, "hnsw"):
        params = faiss.SearchParametersHNSW(efSearch=beam)  # type: ignore[attr-defined]  # not in faiss's stub
        return index.search(vectors, k, params=params)
    return index.search(vectors, k)


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


def write_systems(directory: Path, systems_of_rows: list[str], vectors: np.ndarray, params: tuple[str, int, int],
                  previous: Path | None) -> tuple[dict[str, str], list[str]]:
    """Each system's FAISS index (params: index type, HNSW M, efConstruction). When the serving build holds the
    same vectors for the same rows with the same params, its files are linked instead of building the HNSW graph
    again, which is most of an unchanged rebuild. Returns the per-system digests and the systems reused."""
    old = _dense_of(previous)
    digests: dict[str, str] = {}
    reused: list[str] = []
    systems = np.array(systems_of_rows, dtype=object)
    for system in dict.fromkeys(systems_of_rows):
        rows = np.flatnonzero(systems == system).astype(np.int64)
        part = np.ascontiguousarray(vectors[rows], dtype=np.float32)
        h = hashlib.sha256(repr((params, part.shape)).encode())
        h.update(rows.tobytes())
        h.update(part.tobytes())
        digests[system] = h.hexdigest()
        if previous is not None and old.get(system) == digests[system] and _link(previous, directory, system):
            reused.append(system)
            continue
        write_dense(directory, system, build_dense(part, *params), rows)
    return digests, reused


def previous_build(index_dir: Path) -> Path | None:
    """The build the index link points at now, if it has a readable manifest."""
    try:
        target = Path(index_dir).resolve(strict=True)
        read_manifest(target)
    except (OSError, IndexLoadError):
        return None
    return target


def _dense_of(previous: Path | None) -> dict[str, str]:
    if previous is None:
        return {}
    try:
        return dict(read_manifest(previous).get("dense") or {})
    except IndexLoadError:
        return {}


def _link(previous: Path, directory: Path, system: str) -> bool:
    """A system's FAISS and id files from the previous build (see format.link_checked)."""
    return link_checked(previous, directory, (dense_file(system), ids_file(system)))
