"""Hot reload: an ASGI wrapper that swaps in an app over the newly built index while requests keep flowing."""
from __future__ import annotations

import hmac
import json
import logging
import os
import re
import signal
import threading
import time
from pathlib import Path, PurePath

import anyio

from embeddings.index.format import IndexLoadError
from embeddings.settings import Settings
from service.search.engine import SearchEngine
from service.web.app import create_app

log = logging.getLogger("medcodes.reload")
WARMING_WATCH_S = 2.0


class ReloadingApp:
    """Requests go to `current`; a reload opens the index again and replaces `current` in one assignment.

    A request already running keeps the app (and index) it started with, so nothing fails during a swap.
    `POST /admin/reload` exists only when an admin token is configured, and needs `Authorization: Bearer TOKEN`.
    Under a supervisor (`serve --workers N`) a successful reload asks it to pass the reload on to every worker.
    """

    def __init__(self, settings: Settings, engine: SearchEngine | None = None, supervisor: int | None = None):
        self.settings = settings
        self.current = create_app(settings, engine)
        self.supervisor = supervisor
        self._lock = threading.Lock()
        self._refused: Path | None = None  # a build the watch failed to open: not retried until the link moves

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["path"] == "/admin/reload" and self.settings.admin_token:
            await self._admin(scope, receive, send)
            return
        await self.current(scope, receive, send)

    @property
    def loaded(self) -> Path:
        directory: Path = self.current.state.engine.store.directory
        return directory

    def reload(self) -> dict:
        """Open the build the index link points to now, unless it is the one loaded; reuse the loaded model."""
        with self._lock:
            old = self.current.state.engine
            if Path(self.settings.index_dir).resolve() == self.loaded:
                return _summary("unchanged", old)
            engine = SearchEngine.open(self.settings, encoder=old.encoder)
            self.current = create_app(self.settings, engine)
            log.warning("reloaded index %s", engine.store.directory.name)
            return _summary("reloaded", engine)

    def tell_supervisor(self) -> None:
        """Ask the supervisor to pass the reload on to every worker (the others still hold the previous index)."""
        if self.supervisor:
            try:
                os.kill(self.supervisor, signal.SIGHUP)
            except OSError as exc:
                log.error("could not reach the supervisor %s: %s", self.supervisor, exc)

    def watch(self, seconds: float) -> None:
        """Follow the index link by itself: every `seconds` (0: never), reload when it points at another build.
        While the loaded index is a words-only first stage the link is followed every WARMING_WATCH_S anyway, so
        semantic search switches on when its build is done. Under a supervisor the same thread also ends this
        worker if the supervisor has gone."""
        threading.Thread(target=self._watch_loop, args=(seconds,), daemon=True, name="medcodes-watch").start()

    def _watch_loop(self, seconds: float) -> None:
        last = time.monotonic()
        while True:
            time.sleep(1.0 if seconds <= 0 else min(seconds, 1.0))
            if self.supervisor and os.getppid() != self.supervisor:
                log.error("the supervisor has gone; this worker stops")
                os.kill(os.getpid(), signal.SIGTERM)
                return
            every = seconds if seconds > 0 else (WARMING_WATCH_S if self.current.state.engine.warming else 0)
            if every <= 0 or time.monotonic() - last < every:
                continue
            last = time.monotonic()
            target = Path(self.settings.index_dir).resolve()
            if target != self.loaded and target != self._refused:
                try:
                    self.reload()
                except Exception as exc:
                    self._refused = target
                    log.error("reload refused, still serving the previous index: %s", _plain(exc))

    async def _admin(self, scope, receive, send) -> None:
        headers = dict(scope.get("headers") or [])
        given = headers.get(b"authorization", b"").decode("latin-1")
        expected = f"Bearer {self.settings.admin_token}"
        if scope["method"] != "POST":
            status, body = 405, {"error": "method_not_allowed", "message": "use POST /admin/reload"}
        elif not hmac.compare_digest(given.encode(), expected.encode()):
            status, body = 401, {"error": "unauthorized", "message": "a valid admin token is required"}
        else:
            try:
                status, body = 200, await _in_thread(self.reload)
                self.tell_supervisor()
            except Exception as exc:  # the old index keeps serving; say why the new one was refused
                status, body = 409, {"error": "reload_failed", "message": _plain(exc)}
        payload = json.dumps(body).encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]})
        await send({"type": "http.response.body", "body": payload})

    def reload_on_sighup(self) -> None:
        """`kill -HUP <pid>` reloads too (main thread only, as Python requires for signal handlers)."""
        def handler(_signum, _frame):
            threading.Thread(target=self._reload_logged, daemon=True).start()
        try:
            signal.signal(signal.SIGHUP, handler)
        except ValueError:
            pass

    def _reload_logged(self) -> None:
        try:
            self.reload()
        except Exception as exc:
            log.error("reload refused, still serving the previous index: %s", _plain(exc))


_PATH = re.compile(r"(?:/[^/\s:'\"]+)+/?")


def _summary(status: str, engine: SearchEngine) -> dict:
    manifest = engine.store.manifest
    return {"status": status, "index": engine.store.directory.name, "built_at": manifest.get("built_at"),
            "fingerprint": manifest.get("fingerprint"), "codes": manifest["counts"]["codes"]}


def _plain(exc: Exception) -> str:
    """Why a reload was refused, for a client: no absolute path of the server's disk, only the file's own name."""
    if not isinstance(exc, IndexLoadError):
        return "the new index could not be opened"
    return _PATH.sub(lambda m: PurePath(m.group()).name or "/", str(exc))


async def _in_thread(fn):
    return await anyio.to_thread.run_sync(fn)


def create_reloading_app() -> ReloadingApp:
    """Factory for `uvicorn --factory` and multi-worker serving: settings come from MEDCODES_* variables."""
    settings = Settings.from_env()
    app = ReloadingApp(settings)
    app.reload_on_sighup()
    app.watch(settings.watch_seconds)
    return app
