"""Several server processes on one listening socket; the supervisor hands a reload (SIGHUP) to every worker."""
from __future__ import annotations

import dataclasses
import logging
import os
import signal
import socket
import subprocess
import sys
import time

from embeddings.settings import Settings, env_name

log = logging.getLogger("medcodes.workers")

SUPERVISOR_ENV = "MEDCODES_SUPERVISOR_PID"  # set for workers only; not a setting
STOP_GRACE_S = 10.0
CRASH_WINDOW_S = 5.0  # a worker that dies this soon after starting counts as a crash
MAX_CRASHES = 5  # crashes in a row before the supervisor gives up (a broken index, a bad setting)


def listening_socket(host: str, port: int) -> socket.socket:
    """The one socket every worker accepts on (the kernel spreads connections across them)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def settings_environ(settings: Settings) -> dict[str, str]:
    """Every setting as its MEDCODES_* variable, so a worker process opens exactly what the supervisor was given."""
    return {env_name(f.name): str(getattr(settings, f.name)) for f in dataclasses.fields(Settings)}


class Supervisor:
    """Starts N workers, restarts one that dies, passes SIGHUP on to all of them, and stops them on SIGTERM/SIGINT.

    A worker that answers `POST /admin/reload` swaps its own index first (so a bad build is refused with a 409),
    then sends SIGHUP here; every other worker then opens the same new build. Workers whose index is already the
    one the link points at do nothing, so one request or one `kill -HUP <supervisor>` reloads all of them.
    """

    def __init__(self, settings: Settings, workers: int):
        self.settings, self.count = settings, workers
        self.sock = listening_socket(settings.host, settings.port)
        self.env = {**os.environ, **settings_environ(settings), SUPERVISOR_ENV: str(os.getpid())}
        self.children: dict[int, tuple[subprocess.Popen, float]] = {}
        self.reload_pending = False
        self.stopping = False
        self.crashes = 0

    def start_worker(self, slot: int) -> None:
        fd = self.sock.fileno()
        proc = subprocess.Popen([sys.executable, "-m", "service.web.workers", str(fd)], pass_fds=(fd,), env=self.env)
        self.children[slot] = (proc, time.monotonic())

    def run(self) -> int:
        signal.signal(signal.SIGHUP, lambda *_: setattr(self, "reload_pending", True))
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: setattr(self, "stopping", True))
        for slot in range(self.count):
            self.start_worker(slot)
        try:
            while not self.stopping:
                time.sleep(0.1)
                if self.reload_pending:
                    self.reload_pending = False
                    self.signal_all(signal.SIGHUP)
                if not self.restart_dead():
                    return 1
            return 0
        finally:
            self.stop()

    def signal_all(self, sig: int) -> None:
        for proc, _started in self.children.values():
            if proc.poll() is None:
                proc.send_signal(sig)

    def restart_dead(self) -> bool:
        for slot, (proc, started) in list(self.children.items()):
            code = proc.poll()
            if code is None or self.stopping:
                continue
            self.crashes = self.crashes + 1 if time.monotonic() - started < CRASH_WINDOW_S else 0
            if self.crashes >= MAX_CRASHES:
                print(f"medcodes serve: workers keep exiting at start (last exit code {code}); stopping",
                      file=sys.stderr)
                return False
            log.warning("worker %s exited with %s; starting another", proc.pid, code)
            self.start_worker(slot)
        return True

    def stop(self) -> None:
        self.signal_all(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_S
        for proc, _started in self.children.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.sock.close()


def serve_workers(settings: Settings, workers: int) -> int:
    return Supervisor(settings, workers).run()


def worker_main(fd: int) -> None:
    """One worker: its own app over the index, serving on the supervisor's socket until told to stop."""
    import uvicorn

    from service.web.reload import ReloadingApp

    settings = Settings.from_env()
    sock = socket.socket(fileno=fd)
    supervisor = int(os.environ.get(SUPERVISOR_ENV) or 0) or None
    app = ReloadingApp(settings, supervisor=supervisor)
    app.reload_on_sighup()
    app.watch(settings.watch_seconds)
    uvicorn.Server(uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=5)).run(sockets=[sock])


if __name__ == "__main__":
    worker_main(int(sys.argv[1]))
