"""sentence-transformers on torch, loaded from a local folder only."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from embeddings.encoders.base import model_digest, resolve_model, tokenizer_words


class SentenceEncoder:
    """sentence-transformers on the CPU; `name` carries a digest of the model files, so identity is by content."""

    def __init__(self, model_path: str = "", threads: int = 0):
        import torch  # heavy: only a build or server that asks for this backend pays for importing it
        from sentence_transformers import SentenceTransformer

        if threads:
            torch.set_num_threads(threads)
        path, base = resolve_model(model_path)
        self.digest = model_digest(path)
        self.name = f"{base}@{self.digest[:12]}"
        self._model = SentenceTransformer(str(path), device="cpu")
        dimension = getattr(self._model, "get_embedding_dimension", None) or \
            self._model.get_sentence_embedding_dimension
        self.dim = int(dimension())

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        vectors = self._model.encode(list(texts), batch_size=len(texts) or 1, normalize_embeddings=True,
                                     convert_to_numpy=True, show_progress_bar=False)
        return np.asarray(vectors, dtype=np.float32)

    def vocabulary(self) -> frozenset[str]:
        return tokenizer_words(self._model.tokenizer.get_vocab())
