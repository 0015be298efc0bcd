"""Encoding progress of a running build, in a small JSON file beside the index, for servers to report."""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

from embeddings.index.builds import builds_dir

EVERY_S = 2.0  # how often the file is rewritten while encoding


def progress_file(index_dir: Path) -> Path:
    return builds_dir(index_dir) / ".encoding.json"


class Reporter:
    """Writes {"encoded", "total", "started", "updated", "pid"} atomically every few seconds; removed at the end."""

    def __init__(self, path: Path):
        self.path, self.started, self.last = path, time.time(), 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self.last < EVERY_S and done < total:
            return
        self.last = now
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}")
        tmp.write_text(json.dumps({"encoded": done, "total": total, "started": round(self.started),
                                   "updated": round(time.time()), "pid": os.getpid()}))
        os.replace(tmp, self.path)

    def finish(self) -> None:
        self.path.unlink(missing_ok=True)


def read(index_dir: Path) -> dict | None:
    """The running build's progress, or None when no build is encoding (or its process is gone)."""
    try:
        state = json.loads(progress_file(index_dir).read_text())
        os.kill(int(state["pid"]), 0)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    total = max(int(state.get("total", 0)), 1)
    return {"encoded": int(state.get("encoded", 0)), "total": total,
            "percent": round(100 * int(state.get("encoded", 0)) / total, 1)}
