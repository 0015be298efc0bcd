"""Hot reload: an ASGI wrapper that swaps in an app over the newly built index while requests keep flowing."""
from __future__ import annotations

import hmac
import json
import logging
import signal
import threading

import anyio

from embeddings.index.format import IndexLoadError
from embeddings.settings import Settings
from service.search.engine import SearchEngine
from service.web.app import create_app

log = logging.getLogger("medcodes.reload")


class ReloadingApp:
    """Requests go to `current`; a reload opens the index again and replaces `current` in one assignment.

    A request already running keeps the app (and index) it started with, so nothing fails during a swap.
    `POST /admin/reload` exists only when an admin token is configured, and needs `Authorization: Bearer TOKEN`.
    """

    def __init__(self, settings: Settings, engine: SearchEngine | None = None):
        self.settings = settings
        self.current = create_app(settings, engine)
        self._lock = threading.Lock()

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["path"] == "/admin/reload" and self.settings.admin_token:
            await self._admin(scope, receive, send)
            return
        await self.current(scope, receive, send)

    def reload(self) -> dict:
        """Open the index the index directory points to now; reuse the loaded model when it is the same."""
        with self._lock:
            old = self.current.state.engine
            engine = SearchEngine.open(self.settings, encoder=old.encoder)
            self.current = create_app(self.settings, engine)
            manifest = engine.store.manifest
            log.warning("reloaded index %s", engine.store.directory.name)
            return {"status": "reloaded", "built_at": manifest.get("built_at"),
                    "fingerprint": manifest.get("fingerprint"), "codes": manifest["counts"]["codes"]}

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


def _plain(exc: Exception) -> str:
    return str(exc) if isinstance(exc, IndexLoadError) else "the new index could not be opened"


async def _in_thread(fn):
    return await anyio.to_thread.run_sync(fn)


def create_reloading_app() -> ReloadingApp:
    """Factory for `uvicorn --factory` and multi-worker serving: settings come from MEDCODES_* variables."""
    app = ReloadingApp(Settings.from_env())
    app.reload_on_sighup()
    return app
