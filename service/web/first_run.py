"""`serve --build-if-stale`: answer within minutes on a fresh machine while the full index builds behind the server."""
from __future__ import annotations

import atexit
import subprocess
import sys
import time
from pathlib import Path

from embeddings.index import format as ix
from embeddings.index.build import BuildRequest, build_index
from embeddings.settings import Settings

STALE_WATCH_S = 5.0  # how often a server over a stale (but complete) index looks for the rebuilt one


def build_log(index_dir: Path) -> Path:
    return index_dir.parent / f"{index_dir.name}.build.log"


def prepare(settings: Settings, log=lambda m: print(m, file=sys.stderr)) -> subprocess.Popen:
    """With no loadable index, build the words-only first stage now (codes, words, pages and the hierarchy parts of
    Similar Codes; no model needed). Then start `medcodes build --if-stale` in the background: it encodes the
    model's vectors (reusing the embedding cache) and swaps the full index in; a server following the index link
    switches to it with no failed request. The background build ends with this process."""
    index_dir = Path(settings.index_dir)
    try:
        ix.read_manifest(index_dir)
    except ix.IndexLoadError:
        started = time.monotonic()
        log("no index yet: building a words-only first stage so the site can answer now ...")
        build_index(settings, BuildRequest(stage="words"), log=log)
        log(f"first stage ready in {time.monotonic() - started:.0f}s; semantic search follows when its vectors are built")
    command = [sys.executable, "-m", "service.cli", "--index", str(index_dir), "build", "--if-stale"]
    if settings.model:
        command[3:3] = ["--model", settings.model]
    if settings.encoder:
        command[3:3] = ["--encoder", settings.encoder]
    out = build_log(index_dir).open("a")
    proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    out.close()
    log(f"building the full index in the background (pid {proc.pid}, log {build_log(index_dir)})")
    atexit.register(_stop, proc)
    return proc


def _stop(proc: subprocess.Popen) -> None:
    """An unfinished background build is stopped with the server; its vectors so far stay in the embedding cache."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
