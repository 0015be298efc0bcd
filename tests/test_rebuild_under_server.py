"""A running server keeps answering while the index it reads is rebuilt and pruned (issue: rebuilds broke it)."""
import pytest
from fastapi.testclient import TestClient

from embeddings.index.build import BuildRequest, build_index
from embeddings.index.builds import builds_dir
from embeddings.settings import Settings
from service.web.app import create_app

REQUEST = BuildRequest(prefixes=("K92", "0FT4"))


@pytest.mark.slow
def test_code_pages_answer_after_any_number_of_rebuilds(tmp_path):
    settings = Settings.from_env(index_dir=tmp_path / "index", cache_dir=tmp_path / "cache", encoder="stub")
    build_index(settings, REQUEST, log=lambda _m: None)
    first_build = (tmp_path / "index").resolve()
    client = TestClient(create_app(settings), raise_server_exceptions=False)
    assert client.get("/api/codes/icd10cm/K92.2").status_code == 200
    for _ in range(3):
        build_index(settings, REQUEST, log=lambda _m: None)
    assert not first_build.exists()  # pruned: the server's build directory is gone from disk
    assert len([p for p in builds_dir(settings.index_dir).iterdir()]) == 2
    for path in ("/api/codes/icd10cm/K92.2", "/codes/icd10cm/K92.2", "/api/codes/icd10cm/K92.2/similar",
                 "/api/search?q=gastrointestinal+hemorrhage", "/codes/icd10pcs/0FT44ZZ"):
        response = client.get(path)
        assert response.status_code == 200, (path, response.text[:200])
    assert "K92.2" in client.get("/codes/icd10cm/K92.2").text


def test_a_page_offset_that_is_not_a_plain_number_is_a_400(client):
    for offset in ("--5", "²", "9" * 5000, "-1", "1e3"):
        response = client.get("/", params={"q": "heart", "offset": offset})
        assert response.status_code == 400, offset
        assert "offset must be a whole number" in response.text
