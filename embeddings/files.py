"""File helpers shared by the build side: content digests and durable (fsynced) writes."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

DIGEST_BLOCK = 1 << 22  # 4 MiB reads keep hashing a 700 MB index fast without holding it in memory


def file_digest(path: Path) -> str:
    """sha256 of a file's bytes, hex."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(DIGEST_BLOCK), b""):
            h.update(block)
    return h.hexdigest()


def fsync_tree(directory: Path) -> None:
    """Flush every file under `directory`, then the directories themselves, so a crash cannot lose them."""
    for path in sorted(Path(directory).rglob("*"), key=lambda p: -len(p.parts)):
        if path.is_file() and not path.is_symlink():
            with open(path, "rb") as fh:
                os.fsync(fh.fileno())
    for folder in [p for p in Path(directory).rglob("*") if p.is_dir()] + [Path(directory)]:
        fsync_dir(folder)


def fsync_dir(directory: Path) -> None:
    """Flush a directory's entries (a rename or a new file in it survives a power loss)."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def cache_file(cache_dir: Path, kind: str, digest: str, suffix: str) -> Path:
    """Where a derived file whose inputs hash to `digest` is kept: cache_dir/kind/<digest[:24]><suffix>."""
    return Path(cache_dir) / kind / f"{digest[:24]}{suffix}"


def replace_from(write, target: Path) -> None:
    """Write a file under a name of this process, then move it onto `target` in one step: another process
    reading the cache sees the old file or the whole new one, never a part. `write(tmp_path)` writes it."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(f".{os.getpid()}.tmp")
    try:
        write(tmp)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
