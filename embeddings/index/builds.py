"""The builds folder beside an index link: the build lock, the atomic link swap, debris removal and pruning."""
from __future__ import annotations

import fcntl
import os
import shutil
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from embeddings.files import fsync_dir

KEEP_BUILDS = 2  # the current build and one before it stay on disk; older ones are removed after a swap


class BuildError(RuntimeError):
    """The build could not run (bad input, another build holding the lock); the previous index is untouched."""


def builds_dir(index_dir: Path) -> Path:
    return index_dir.parent / (index_dir.name + ".builds")


@contextmanager
def build_lock(index_dir: Path) -> Iterator[None]:
    index_dir.parent.mkdir(parents=True, exist_ok=True)
    with open(index_dir.parent / (index_dir.name + ".lock"), "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BuildError(f"another build of {index_dir} is running; wait for it to finish") from None
        yield


def swap_in(index_dir: Path, build: Path) -> None:
    """Point index_dir at the new build with one atomic rename of a symlink; readers never see a partial index."""
    if index_dir.exists() and not index_dir.is_symlink():
        os.rename(index_dir, builds_dir(index_dir) / f"previous-{time.strftime('%Y%m%dT%H%M%S')}")
    link = index_dir.parent / f".{index_dir.name}.link-{os.getpid()}"
    if link.is_symlink() or link.exists():
        link.unlink()
    os.symlink(os.path.relpath(build, index_dir.parent), link)
    os.replace(link, index_dir)
    fsync_dir(index_dir.parent)  # the new link itself survives a power loss


def remove_debris(index_dir: Path) -> None:
    for tmp in builds_dir(index_dir).glob(".tmp-*"):
        shutil.rmtree(tmp, ignore_errors=True)
    for link in index_dir.parent.glob(f".{index_dir.name}.link-*"):
        link.unlink(missing_ok=True)


def prune(index_dir: Path) -> None:
    current = index_dir.resolve()
    builds = sorted((p for p in builds_dir(index_dir).iterdir() if p.is_dir() and not p.name.startswith(".")),
                    key=lambda p: p.stat().st_mtime, reverse=True)
    for old in [b for b in builds if b.resolve() != current][KEEP_BUILDS - 1:]:
        shutil.rmtree(old, ignore_errors=True)


