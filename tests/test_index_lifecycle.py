"""Production paths of the index: HNSW at full size, migration of an old plain directory, empty systems, model checks."""
from pathlib import Path

import numpy as np
import pytest

from embeddings.encoders.stub import StubEncoder
from embeddings.index import format as ix
from embeddings.index.build import BuildError, BuildRequest, build_index, builds_dir
from embeddings.index.dense import HNSW_MIN_VECTORS
from embeddings.settings import Settings
from service.search.engine import SearchEngine

FIX = Path(__file__).parent / "fixtures"
SMALL = BuildRequest(systems=("icd10cm",), sources={"icd10cm": FIX / "tabular-mini.xml"})


def _settings(tmp_path, **kw):
    return Settings.from_env(index_dir=tmp_path / "index", cache_dir=tmp_path / "cache", encoder="stub", **kw)


@pytest.mark.slow
def test_a_system_above_the_flat_threshold_gets_an_hnsw_graph_that_finds_its_own_vectors(tmp_path):
    settings = _settings(tmp_path, hnsw_ef_search=256)
    build_index(settings, BuildRequest(systems=("icd10cm",), prefixes=("S72",)), log=lambda _m: None)
    engine = SearchEngine.open(settings)
    dense = engine.store.dense["icd10cm"]
    assert dense.ntotal > HNSW_MIN_VECTORS and hasattr(dense, "hnsw")
    assert dense.hnsw.efSearch == 256
    ids = engine.store.ids["icd10cm"]
    sample = np.random.default_rng(7).choice(len(ids), 200, replace=False)
    queries = np.stack([engine.store.vector("icd10cm", int(ids[i])) for i in sample])
    _scores, found = dense.search(queries, 1)
    assert (found[:, 0] == sample).mean() >= 0.99  # each vector is its own nearest neighbour
    hit = engine.search("Displaced fracture of neck of right femur", limit=5).hits
    assert hit and hit[0].code.startswith("S72")


def test_an_index_left_as_a_plain_directory_is_moved_aside_not_deleted(tmp_path):
    settings = _settings(tmp_path)
    build_index(settings, SMALL, log=lambda _m: None)
    first = settings.index_dir.resolve()
    settings.index_dir.unlink()
    first.rename(settings.index_dir)  # the layout of an old release: the index is a real directory
    build_index(settings, SMALL, log=lambda _m: None)
    assert settings.index_dir.is_symlink()
    kept = list(builds_dir(settings.index_dir).glob("previous-*"))
    assert len(kept) == 1 and (kept[0] / ix.MANIFEST).exists()


def test_a_system_with_no_codes_is_an_error_and_the_previous_index_keeps_serving(tmp_path):
    settings = _settings(tmp_path)
    build_index(settings, SMALL, log=lambda _m: None)
    before = settings.index_dir.resolve()
    with pytest.raises(BuildError, match="icd10cm has no codes"):
        build_index(settings, BuildRequest(systems=("icd10cm",), sources=SMALL.sources, prefixes=("ZZZ9",)),
                    log=lambda _m: None)
    assert settings.index_dir.resolve() == before and SearchEngine.open(settings).search("sprocket").hits


def test_reloading_an_index_built_for_another_model_is_refused_and_the_old_one_serves(tmp_path):
    from fastapi.testclient import TestClient

    from service.web.reload import ReloadingApp
    settings = _settings(tmp_path, admin_token="t")
    build_index(settings, SMALL, log=lambda _m: None)
    served = settings.index_dir.resolve().name
    client = TestClient(ReloadingApp(settings))
    build_index(settings, SMALL, encoder=StubEncoder(dim=128), log=lambda _m: None)
    reply = client.post("/admin/reload", headers={"Authorization": "Bearer t"})
    assert reply.status_code == 409 and "model" in reply.json()["message"]
    assert str(tmp_path) not in reply.text
    answer = client.get("/api/search", params={"q": "sprocket"})
    assert answer.status_code == 200 and answer.headers["x-medcodes-index"] == served
