"""Bounded HTTP load on loopback: start the server in a subprocess, drive it with concurrent clients, measure."""
from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np


@dataclass(frozen=True)
class LoadResult:
    requests: int
    errors: int
    seconds: float
    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    statuses: dict
    per_url: dict | None = None  # requests sent to each base URL (replicas)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`medcodes serve` in a child process on 127.0.0.1; only ever loopback."""

    def __init__(self, index_dir: Path, workers: int = 1, env: dict | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.workers = workers
        self._env = {**os.environ, "MEDCODES_INDEX_DIR": str(index_dir), **(env or {})}
        self.proc: subprocess.Popen | None = None
        self.start_seconds = 0.0

    def __enter__(self) -> "Server":
        started = time.monotonic()
        self.proc = subprocess.Popen([sys.executable, "-m", "service.cli", "serve", "--host", "127.0.0.1",
                                      "--port", str(self.port), "--workers", str(self.workers)],
                                     env=self._env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = started + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("server exited: " + self.proc.stderr.read().decode()[-2000:])
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    self.start_seconds = time.monotonic() - started
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError("server did not become healthy within 120 s")

    def rss_mb(self) -> float:
        """Resident memory of the server and its worker children, from /proc."""
        return memory_mb([self.proc.pid] + children(self.proc.pid), "status", "VmRSS:")

    def pss_mb(self) -> float:
        """Proportional memory of the server and its workers (a page shared by two processes counts half in each)."""
        return memory_mb([self.proc.pid] + children(self.proc.pid), "smaps_rollup", "Pss:")

    def cpu_seconds(self) -> float:
        """CPU time (user + system) the server and its workers have used so far, from /proc."""
        return cpu_seconds([self.proc.pid] + children(self.proc.pid))

    def __exit__(self, *exc) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def children(pid: int) -> list[int]:
    """The child processes of `pid` (a server's workers), from /proc."""
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def cpu_seconds(pids: list[int]) -> float:
    """utime + stime of the processes (fields 14 and 15 of /proc/PID/stat, after the command name), in seconds."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return total / ticks


def memory_mb(pids: list[int], proc_file: str, field: str) -> float:
    """A kB field of /proc/PID/<proc_file> ('VmRSS:' of status, 'Pss:' of smaps_rollup) summed over the pids, in MB."""
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/{proc_file}").read_text().splitlines():
                if line.startswith(field):
                    total += int(line.split()[1])
        except OSError:
            pass
    return round(total / 1024, 1)


def run_load(base_url: str | list[str], paths: list[str], concurrency: int = 8, max_requests: int = 2000,
             max_seconds: float = 60.0) -> LoadResult:
    """Send up to max_requests GETs (cycling through paths) with `concurrency` clients, stopping at max_seconds.
    With several base URLs (replicas of one index) request n goes to URL n mod their count: a round-robin."""
    urls = [base_url] if isinstance(base_url, str) else list(base_url)
    return asyncio.run(_load(urls, paths, concurrency, max_requests, max_seconds))


async def _load(base_urls, paths, concurrency, max_requests, max_seconds) -> LoadResult:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    errors = 0
    counter = iter(range(max_requests))
    started = time.monotonic()
    per_url: dict[str, int] = {u: 0 for u in base_urls}

    async def client(https: list[httpx.AsyncClient]):
        nonlocal errors
        for n in counter:
            if time.monotonic() - started > max_seconds:
                return
            t0 = time.perf_counter()
            http = https[n % len(https)]
            per_url[str(http.base_url)] = per_url.get(str(http.base_url), 0) + 1
            try:
                response = await http.get(paths[n % len(paths)])
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                if response.status_code >= 500:
                    errors += 1
            except httpx.HTTPError:
                errors += 1
            latencies.append((time.perf_counter() - t0) * 1000)

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    https = [httpx.AsyncClient(base_url=u, limits=limits, timeout=30) for u in base_urls]
    try:
        await asyncio.gather(*(client(https) for _ in range(concurrency)))
    finally:
        for http in https:
            await http.aclose()
    seconds = time.monotonic() - started
    lat = np.array(latencies) if latencies else np.zeros(1)
    return LoadResult(len(latencies), errors, round(seconds, 2), round(len(latencies) / seconds, 1),
                      round(float(np.percentile(lat, 50)), 2), round(float(np.percentile(lat, 95)), 2),
                      round(float(np.percentile(lat, 99)), 2), statuses, {u: c for u, c in per_url.items() if c})
