"""First run: a words-only first stage answers at once, then the full index swaps in by itself."""
import time

import pytest
from fastapi.testclient import TestClient

from embeddings.index import progress
from embeddings.index.build import BuildRequest, build_index, builds_dir
from embeddings.settings import Settings
from service.search.engine import SearchEngine
from service.similar.rank import similar_codes
from service.web.reload import ReloadingApp

PREFIXES = ("K92", "K80", "I21", "0FT4", "0FB4")


@pytest.fixture
def words_stage(tmp_path):
    settings = Settings.from_env(index_dir=tmp_path / "index", cache_dir=tmp_path / "cache", encoder="stub")
    build_index(settings, BuildRequest(prefixes=PREFIXES, stage="words"), log=lambda _m: None)
    return settings


def test_a_words_stage_needs_no_model_and_answers_codes_words_pages_and_similar_codes(words_stage):
    engine = SearchEngine.open(words_stage.replace(encoder="no-such-encoder"))  # never asked for
    assert engine.warming and engine.encoder is None and engine.store.stage == "words"
    assert engine.search("k922").hits[0].code == "K92.2"
    found = engine.search("gastrointestinal hemorrhage")
    assert found.warming and any(h.code.startswith("K92") for h in found.hits)
    assert engine.search("gallbladder", mode="dense").hits  # words stand in until vectors exist
    assert not (builds_dir(words_stage.index_dir) / ".encoding.json").exists()
    similar = similar_codes(engine, "icd10cm", "K92.1", 5)
    assert similar and all(s.reasons for s in similar)
    client = TestClient(ReloadingApp(words_stage, engine))
    health = client.get("/health").json()
    assert health["semantic"]["status"] == "warming"
    assert client.get("/api/search", params={"q": "melena"}).json()["semantic"] == "warming"
    assert "Semantic search is warming up" in client.get("/", params={"q": "melena"}).text
    assert client.get("/codes/icd10cm/K92.2").status_code == 200


def test_the_server_switches_to_the_full_index_by_itself_when_it_lands(words_stage):
    app = ReloadingApp(words_stage)
    app.watch(0)  # no watch asked for: a warming server follows the link anyway
    client = TestClient(app)
    first = client.get("/health").json()
    assert first["semantic"]["status"] == "warming"
    build_index(words_stage, BuildRequest(prefixes=PREFIXES), log=lambda _m: None)
    deadline = time.monotonic() + 20
    while client.get("/health").json()["semantic"]["status"] != "ready" and time.monotonic() < deadline:
        time.sleep(0.2)
    health = client.get("/health").json()
    assert health["semantic"] == {"status": "ready"} and health["index"] != first["index"]
    assert any("semantic" in r for h in client.get("/api/search", params={"q": "bleeding bowel"}).json()["results"]
               for r in h["reasons"])


def test_progress_is_reported_while_a_build_encodes_and_forgotten_after(tmp_path):
    index_dir = tmp_path / "index"
    reporter = progress.Reporter(progress.progress_file(index_dir))
    reporter(50, 200)
    assert progress.read(index_dir) == {"encoded": 50, "total": 200, "percent": 25.0}
    reporter.finish()
    assert progress.read(index_dir) is None


def test_an_unknown_build_stage_is_refused(tmp_path):
    from embeddings.index.build import BuildError
    settings = Settings.from_env(index_dir=tmp_path / "index", cache_dir=tmp_path / "cache", encoder="stub")
    with pytest.raises(BuildError, match="unknown build stage"):
        build_index(settings, BuildRequest(prefixes=PREFIXES, stage="half"), log=lambda _m: None)
