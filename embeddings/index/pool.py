"""Read-only SQLite connections to one index file, opened once and shared by the threads of a process."""
from __future__ import annotations

import queue
import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Sequence

# Connections opened when an index is loaded and kept until it is dropped: a rebuild that prunes this build's
# directory cannot take the files from under a running server (open files outlive their directory entries).
POOL_SIZE = 8
MMAP_BYTES = 1 << 30  # SQLite reads the catalogue through a memory map of up to this size


class Pool:
    """Read-only connections to one SQLite file, all opened now; a query borrows one and gives it back."""

    def __init__(self, path: Path, size: int = POOL_SIZE):
        self._free: queue.SimpleQueue[sqlite3.Connection] = queue.SimpleQueue()
        for _ in range(size):
            connection = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True, check_same_thread=False)
            connection.execute(f"PRAGMA mmap_size = {MMAP_BYTES}")  # pages shared by every process, not copied
            self._free.put(connection)

    @contextmanager
    def connection(self) -> Iterator[sqlite3.Connection]:
        conn = self._free.get()
        try:
            yield conn
        finally:
            self._free.put(conn)

    def all(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self.connection() as conn:
            return conn.execute(sql, list(args)).fetchall()

    def one(self, sql: str, args: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        with self.connection() as conn:
            row: tuple[Any, ...] | None = conn.execute(sql, list(args)).fetchone()
            return row
