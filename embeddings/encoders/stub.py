"""A deterministic bag-of-words hash encoder for fast tests: texts sharing words get close vectors."""
from __future__ import annotations

import hashlib
import re
from typing import Sequence

import numpy as np

STEM = 5  # words compare on their first five letters ('fractures' ~ 'fracture'), as the engine's word rule
_TOKEN = re.compile(r"[a-z0-9]+")


class StubEncoder:
    def __init__(self, dim: int = 384):
        self.name, self.dim = f"stub-hash-{dim}", dim
        self._vectors: dict[str, np.ndarray] = {}  # one random draw per distinct word stem, not per occurrence

    def _word(self, word: str) -> np.ndarray:
        vector = self._vectors.get(word)
        if vector is None:
            seed = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "little")
            vector = self._vectors[word] = np.random.default_rng(seed).standard_normal(self.dim).astype(np.float32)
        return vector

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in _TOKEN.findall(text.lower()):
                out[i] += self._word(word[:STEM])
            norm = np.linalg.norm(out[i])
            out[i] = out[i] / norm if norm else self._word("\0empty")
        return out / np.linalg.norm(out, axis=1, keepdims=True)

    def vocabulary(self) -> frozenset[str]:
        return frozenset()
