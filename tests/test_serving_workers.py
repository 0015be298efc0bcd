"""Operations: `medcodes serve --workers 2` under load while its index is rebuilt and reloaded three times."""
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from embeddings.index.build import BuildRequest, build_index
from embeddings.settings import Settings
from service.perf.httpload import children, free_port, memory_mb

pytestmark = pytest.mark.slow

FIX = Path(__file__).parent / "fixtures"
PLAIN = BuildRequest(systems=("icd10cm",), sources={"icd10cm": FIX / "tabular-mini.xml"})
WITH_CPT = BuildRequest(systems=("icd10cm",), sources={"icd10cm": FIX / "tabular-mini.xml"},
                        custom={"cpt": FIX / "custom-codes.csv"})
TOKEN = "ops-token"


def _open_builds(pid: int) -> set[str]:
    """Names of the index builds whose catalogue this process holds open."""
    names = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.endswith("/catalogue.sqlite"):
            names.add(Path(target).parent.name)
    return names


def _wait(predicate, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def cluster(tmp_path):
    """A supervisor with two workers on a fresh index (stub encoder), stopped at the end."""
    settings = Settings.from_env(index_dir=tmp_path / "index", cache_dir=tmp_path / "cache", encoder="stub")
    build_index(settings, PLAIN, log=lambda _m: None)
    port = free_port()
    env = {**os.environ, "MEDCODES_ENCODER": "stub", "MEDCODES_INDEX_DIR": str(settings.index_dir),
           "MEDCODES_CACHE_DIR": str(settings.cache_dir), "MEDCODES_ADMIN_TOKEN": TOKEN}
    proc = subprocess.Popen([sys.executable, "-m", "service.cli", "serve", "--workers", "2", "--port", str(port)],
                            env=env, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"

    def up():
        try:
            return httpx.get(url + "/health", timeout=2).status_code == 200 and len(children(proc.pid)) == 2
        except httpx.HTTPError:
            return False
    try:
        _wait(up, 90, "the server to start")
        yield settings, url, proc
    finally:
        workers = children(proc.pid) if proc.poll() is None else []
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        for pid in workers:
            assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text()


def test_two_workers_survive_three_rebuilds_and_reloads_under_load(cluster):
    settings, url, proc = cluster
    has_cpt = {settings.index_dir.resolve().name: False}
    answers: list[tuple[str, int, str, bool | None]] = []  # (path, status, build, cpt seen)
    failures: list[str] = []
    stop = threading.Event()

    def client(n: int):
        paths = ["/api/search?q=widget", "/api/systems", "/codes/icd10cm/Q11.0", "/api/search?q=sprocket+widget"]
        with httpx.Client(base_url=url, timeout=15) as http:
            i = n
            while not stop.is_set() and len(answers) < 20_000:
                path = paths[i % len(paths)]
                i += 1
                try:
                    r = http.get(path)
                except httpx.HTTPError as exc:
                    failures.append(f"{path}: {exc!r}")
                    continue
                cpt = None
                if path.startswith("/api/search") and r.status_code == 200:
                    cpt = any(h["system"] == "cpt" for h in r.json()["results"])
                elif path == "/api/systems" and r.status_code == 200:
                    cpt = "cpt" in [s["name"] for s in r.json()["systems"]]
                answers.append((path, r.status_code, r.headers.get("x-medcodes-index", ""), cpt))

    workers = children(proc.pid)
    threads = [threading.Thread(target=client, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    try:
        time.sleep(1.0)
        memory_before = memory_mb(workers, "status", "VmRSS:")
        for round_, (request, how) in enumerate([(WITH_CPT, "request"), (PLAIN, "signal"), (WITH_CPT, "request")]):
            build_index(settings, request, log=lambda _m: None)
            build = settings.index_dir.resolve().name
            has_cpt[build] = request is WITH_CPT
            if how == "request":
                reply = httpx.post(url + "/admin/reload", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60)
                assert reply.status_code == 200 and reply.json()["index"] == build, reply.text
            else:
                proc.send_signal(signal.SIGHUP)
            # Every worker, not only the one that answered, ends up on the new build.
            _wait(lambda: all(build in _open_builds(pid) for pid in workers), 30, f"all workers on {build}")
            time.sleep(0.5)
        memory_after = memory_mb(workers, "status", "VmRSS:")
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert children(proc.pid) == workers  # hot swaps, not restarts
    assert not failures, failures[:5]
    statuses = [a[1] for a in answers]
    assert len(answers) > 200 and set(statuses) == {200}, {s: statuses.count(s) for s in set(statuses)}
    # Each answer is consistent with the build that says it answered (two builds differ by the cpt system).
    judged = [(build, cpt) for _path, _status, build, cpt in answers if cpt is not None]
    assert {build for build, _ in judged} >= set(has_cpt)
    wrong = [(b, c) for b, c in judged if b not in has_cpt or has_cpt[b] != c]
    assert not wrong, wrong[:5]
    assert memory_after < memory_before * 1.3 + 30, (memory_before, memory_after)
    print(f"\n{len(answers)} requests, 0 failed, 0 5xx; worker RSS {memory_before:.0f} MB -> {memory_after:.0f} MB")


def test_a_worker_that_dies_is_replaced_and_a_bad_build_is_refused_everywhere(cluster):
    settings, url, proc = cluster
    first, second = children(proc.pid)
    os.kill(first, signal.SIGKILL)
    _wait(lambda: len(children(proc.pid)) == 2 and first not in children(proc.pid), 30, "a new worker")
    _wait(lambda: httpx.get(url + "/health", timeout=5).status_code == 200, 30, "the new worker to answer")
    good = settings.index_dir.resolve().name
    build_index(settings, WITH_CPT, log=lambda _m: None)
    (settings.index_dir / "dense-cpt.faiss").write_bytes(b"garbage")
    reply = httpx.post(url + "/admin/reload", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60)
    assert reply.status_code == 409 and "/" not in reply.json()["message"].replace("`", "")
    for _ in range(20):
        r = httpx.get(url + "/api/systems", timeout=10)
        assert r.status_code == 200 and r.headers["x-medcodes-index"] == good


def test_watch_follows_a_rebuild_without_being_told(tmp_path):
    settings = Settings.from_env(index_dir=tmp_path / "index", cache_dir=tmp_path / "cache", encoder="stub")
    build_index(settings, PLAIN, log=lambda _m: None)
    port = free_port()
    env = {**os.environ, "MEDCODES_ENCODER": "stub", "MEDCODES_INDEX_DIR": str(settings.index_dir),
           "MEDCODES_CACHE_DIR": str(settings.cache_dir)}
    proc = subprocess.Popen([sys.executable, "-m", "service.cli", "serve", "--workers", "2", "--port", str(port),
                             "--watch", "0.5"], env=env, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait(lambda: len(children(proc.pid)) == 2, 60, "two workers")
        workers = children(proc.pid)
        _wait(lambda: all(_open_builds(pid) for pid in workers), 90, "the workers to open the index")
        build_index(settings, WITH_CPT, log=lambda _m: None)
        build = settings.index_dir.resolve().name
        _wait(lambda: all(build in _open_builds(pid) for pid in workers), 30, "the watch to reload every worker")
        # A worker maps the new files before it swaps its engine: the answers follow within moments, from each worker.
        _wait(lambda: all("cpt" in [s["name"] for s in httpx.get(url + "/api/systems", timeout=10).json()["systems"]]
                          for _ in range(6)), 30, "every worker to answer from the new build")
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0


def test_replicas_on_one_index_directory_share_a_round_robin_load_with_no_errors(tmp_path):
    from contextlib import ExitStack

    from service.perf.httpload import Server, run_load
    settings = Settings.from_env(index_dir=tmp_path / "index", cache_dir=tmp_path / "cache", encoder="stub")
    build_index(settings, WITH_CPT, log=lambda _m: None)
    env = {"MEDCODES_ENCODER": "stub", "MEDCODES_CACHE_DIR": str(settings.cache_dir)}
    paths = ["/api/search?q=widget", "/api/codes/icd10cm/Q11.0", "/codes/cpt/ZZ101", "/api/search?q=%ff", "/health"]
    with ExitStack() as stack:
        replicas = [stack.enter_context(Server(settings.index_dir, workers=1, env=env)) for _ in range(2)]
        result = run_load([r.url for r in replicas], paths, concurrency=4, max_requests=400, max_seconds=60)
    assert result.requests == 400 and result.errors == 0
    assert set(result.statuses) == {200, 400} and result.statuses[400] == 80
    assert sorted(result.per_url.values()) == [200, 200]
