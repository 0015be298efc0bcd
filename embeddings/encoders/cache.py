"""The embedding cache (vectors keyed by text hash, one SQLite file per model) and cached batch encoding."""
from __future__ import annotations

import hashlib
import re
import sqlite3
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from embeddings.encoders.base import Encoder

SQL_CHUNK = 900  # SQLite allows 999 bound parameters per statement
BATCHES_PER_COMMIT = 16  # encoded vectors are written to the cache every this many batches


def text_hash(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


class EmbeddingCache:
    """Vectors keyed by text hash in one SQLite file per model, so an unchanged rebuild encodes nothing."""

    def __init__(self, cache_dir: Path, model_name: str, dim: int):
        cache_dir.mkdir(parents=True, exist_ok=True)
        slug = re.sub(r"[^A-Za-z0-9_.-]", "_", model_name)
        self.path = cache_dir / f"embeddings-{slug}-{dim}.sqlite"
        self.dim = dim
        self._db = sqlite3.connect(self.path)
        self._db.execute("CREATE TABLE IF NOT EXISTS vectors (hash TEXT PRIMARY KEY, vector BLOB NOT NULL)")

    def get_many(self, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        for start in range(0, len(hashes), SQL_CHUNK):
            chunk = list(hashes[start:start + SQL_CHUNK])
            marks = ",".join("?" * len(chunk))
            for h, blob in self._db.execute(f"SELECT hash, vector FROM vectors WHERE hash IN ({marks})", chunk):
                vector = np.frombuffer(blob, dtype=np.float32)
                if vector.shape == (self.dim,):
                    found[h] = vector
        return found

    def put_many(self, items: Sequence[tuple[str, np.ndarray]]) -> None:
        with self._db:
            self._db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?)",
                                 [(h, np.asarray(v, dtype=np.float32).tobytes()) for h, v in items])

    def close(self) -> None:
        self._db.close()


def lengths(encoder: Encoder, texts: Sequence[str]) -> list[int]:
    """Each text's length in the encoder's own units: tokens where it can count them (a batch pads to its longest
    text in tokens, not characters), characters otherwise."""
    counter = getattr(encoder, "token_counts", None)
    return list(counter(texts)) if counter else [len(t) for t in texts]


def encode_all(encoder: Encoder, texts: Sequence[str], cache: EmbeddingCache | None, batch_size: int = 64,
               progress: Callable[[int, int], None] | None = None) -> tuple[np.ndarray, int]:
    """Encode texts, reusing cached vectors and encoding each distinct text once; longest-first batches (by
    token count) keep padding low. Returns (vectors, newly encoded)."""
    hashes = [text_hash(t) for t in texts]
    known = cache.get_many(list(dict.fromkeys(hashes))) if cache else {}
    todo = list({h: t for h, t in zip(hashes, texts) if h not in known}.items())
    sizes = lengths(encoder, [t for _, t in todo])
    missing = [todo[i] for i in sorted(range(len(todo)), key=lambda i: -sizes[i])]
    chunk = max(batch_size * BATCHES_PER_COMMIT, batch_size)
    together = getattr(encoder, "encode_batches", None)  # an encoder that runs several batches at once
    for start in range(0, len(missing), chunk):
        part = missing[start:start + chunk]
        batches = [[t for _, t in part[b:b + batch_size]] for b in range(0, len(part), batch_size)]
        encoded = together(batches) if together else map(encoder.encode, batches)  # the latter one at a time
        for b, vectors in enumerate(encoded):
            known.update({h: v for (h, _), v in zip(part[b * batch_size:], vectors)})
            if progress:
                progress(min(start + (b + 1) * batch_size, len(missing)), len(missing))
        if cache:
            cache.put_many([(h, known[h]) for h, _ in part])
    matrix = np.stack([known[h] for h in hashes]) if hashes else np.zeros((0, encoder.dim), np.float32)
    return matrix.astype(np.float32), len(missing)
