"""Hot reload: a rebuilt index swaps in while clients keep searching, with no failed request."""
import threading
import time
from pathlib import Path

import httpx
import pytest
from serving import serve

from embeddings.index.build import BuildRequest, build_index
from embeddings.settings import Settings
from service.web.reload import ReloadingApp

FIX = Path(__file__).parent / "fixtures"
FIRST = BuildRequest(systems=("icd10cm",), sources={"icd10cm": FIX / "tabular-mini.xml"})
SECOND = BuildRequest(systems=("icd10cm",), sources={"icd10cm": FIX / "tabular-mini.xml"},
                      custom={"cpt": FIX / "custom-codes.csv"})


@pytest.fixture
def served(tmp_path):
    settings = Settings.from_env(index_dir=tmp_path / "index", cache_dir=tmp_path / "cache", encoder="stub",
                                 admin_token="s3cret")
    build_index(settings, FIRST, log=lambda _m: None)
    with serve(ReloadingApp(settings)) as url:
        yield settings, url


def test_reload_under_load_fails_no_request(served):
    settings, url = served
    statuses, stop = [], threading.Event()

    def client():
        with httpx.Client(base_url=url, timeout=10) as http:
            while not stop.is_set():
                statuses.append(http.get("/api/search", params={"q": "widget"}).status_code)

    clients = [threading.Thread(target=client) for _ in range(4)]
    for c in clients:
        c.start()
    time.sleep(0.3)
    build_index(settings, SECOND, log=lambda _m: None)
    reply = httpx.post(url + "/admin/reload", headers={"Authorization": "Bearer s3cret"}, timeout=30)
    time.sleep(0.3)
    stop.set()
    for c in clients:
        c.join()
    assert reply.status_code == 200 and reply.json()["status"] == "reloaded"
    assert len(statuses) > 20 and set(statuses) == {200}
    systems = [s["name"] for s in httpx.get(url + "/api/systems").json()["systems"]]
    assert "cpt" in systems


def test_reload_needs_the_token(served):
    _settings, url = served
    assert httpx.post(url + "/admin/reload").status_code == 401
    assert httpx.post(url + "/admin/reload", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert httpx.get(url + "/admin/reload", headers={"Authorization": "Bearer s3cret"}).status_code == 405


def test_broken_new_index_is_refused_and_old_keeps_serving(served):
    settings, url = served
    build_index(settings, SECOND, log=lambda _m: None)
    (settings.index_dir / "dense-cpt.faiss").write_bytes(b"garbage")
    reply = httpx.post(url + "/admin/reload", headers={"Authorization": "Bearer s3cret"}, timeout=30)
    assert reply.status_code == 409 and "rebuild" in reply.json()["message"].lower()
    assert httpx.get(url + "/api/search", params={"q": "widget"}).status_code == 200


def test_reload_route_is_absent_without_a_token(tmp_path):
    from fastapi.testclient import TestClient
    settings = Settings.from_env(index_dir=tmp_path / "index", cache_dir=tmp_path / "cache", encoder="stub")
    build_index(settings, FIRST, log=lambda _m: None)
    client = TestClient(ReloadingApp(settings))
    assert client.post("/admin/reload").status_code == 404
