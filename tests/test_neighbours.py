"""The Similar Codes tables a build writes: read back memory-mapped, equal to the tables computed from SQLite."""
import dataclasses
import shutil

import numpy as np

from embeddings.index import format as ix
from embeddings.index import neighbours as nb
from embeddings.index.store import IndexStore
from service.similar import data as sd
from service.similar.rank import similar_codes


def _same(a, b) -> bool:
    if isinstance(a, nb.Partition):
        return all(_same(getattr(a, f.name), getattr(b, f.name)) for f in dataclasses.fields(a))
    if isinstance(a, nb.Groups):
        return a.names == b.names and a.labels == b.labels and all(
            _same(getattr(a, f), getattr(b, f)) for f in ("row_starts", "row_groups", "by_group"))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, np.ndarray):
        return a.shape == b.shape and bool(np.all(np.asarray(a) == np.asarray(b)))
    return a == b


def test_the_build_writes_tables_equal_to_those_computed_from_the_catalogue(engine):
    store = engine.store
    written = nb.read(store.directory)
    assert written is not None and isinstance(written.parent.base, np.memmap)  # over the mapped file
    assert (store.directory / nb.META).name in store.manifest["files"]  # checked like every index file
    computed = nb.compute(store)
    for field in dataclasses.fields(nb.NeighbourTables):
        assert _same(getattr(written, field.name), getattr(computed, field.name)), field.name
    assert computed.grouped and len(computed.schemes["ccs"].names) > 0


def test_an_index_without_the_tables_computes_them_and_suggests_the_same(engine, tmp_path):
    copy = tmp_path / "old-build"
    shutil.copytree(engine.store.directory, copy)
    for path in copy.glob(nb.PREFIX + "*"):
        path.unlink()
    (copy / nb.META).unlink()
    manifest = ix.read_manifest(copy)
    ix.write_manifest(copy, {k: v for k, v in manifest.items() if k not in ("files", "format")})
    old = IndexStore(copy)
    assert nb.read(copy) is None
    data = sd.similar_data(old)
    assert not isinstance(data.tables.parent.base, np.memmap)
    from service.search.engine import SearchEngine
    before = similar_codes(engine, "icd10cm", "S72.001A", 8)
    after = similar_codes(SearchEngine(old, engine.encoder, engine.settings), "icd10cm", "S72.001A", 8)
    assert [(s.code, s.reasons) for s in before] == [(s.code, s.reasons) for s in after]
