"""File helpers shared by the build side: content digests and durable (fsynced) writes."""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

DIGEST_BLOCK = 1 << 22  # 4 MiB reads keep hashing a 700 MB index fast without holding it in memory
MEMO_FILE = "digests.json"


def file_digest(path: Path) -> str:
    """sha256 of a file's bytes, hex."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(DIGEST_BLOCK), b""):
            h.update(block)
    return h.hexdigest()


class DigestMemo:
    """Digests of files hashed before on this machine, kept in a small JSON file, keyed by device, inode, size,
    modification and change times: a file left as it was is not read again (a server start would otherwise hash
    the whole index and model, a second or more per worker). Without a folder, or one it cannot write, it only
    hashes."""

    def __init__(self, folder: Path | None):
        self.path = Path(folder) / MEMO_FILE if folder is not None else None
        self.known: dict[str, list[str]] = {}
        self.changed = False
        if self.path is not None:
            try:
                found = json.loads(self.path.read_text())
                self.known = {k: v for k, v in found.items() if isinstance(v, list) and len(v) == 2}
            except (OSError, ValueError, AttributeError):
                pass

    def digest(self, path: Path) -> str:
        st = os.stat(path)
        stamp = f"{st.st_dev}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}"
        name = str(Path(path).resolve())
        seen = self.known.get(name)
        if seen and seen[0] == stamp:
            return seen[1]
        digest = file_digest(path)
        self.known[name] = [stamp, digest]
        self.changed = True
        return digest

    def save(self) -> None:
        """Keep what was hashed for the next process; entries of files that are gone are dropped."""
        if self.path is None or not self.changed:
            return
        kept = {k: v for k, v in self.known.items() if os.path.exists(k)}
        try:
            replace_from(lambda tmp: tmp.write_text(json.dumps(kept)), self.path)
        except OSError:
            pass  # a read-only cache: the next start hashes again
        self.changed = False


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
