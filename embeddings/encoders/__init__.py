"""Encoder backends and the one factory that knows them all."""
from __future__ import annotations

from pathlib import Path

from embeddings.encoders.base import PACKAGED_MODEL, Encoder
from embeddings.encoders.onnx import OnnxEncoder
from embeddings.encoders.sentence import SentenceEncoder
from embeddings.encoders.stub import StubEncoder
from embeddings.settings import Settings

KINDS = ("onnx", "onnx-int8", "sentence", "stub")
__all__ = ["KINDS", "PACKAGED_MODEL", "Encoder", "OnnxEncoder", "SentenceEncoder", "StubEncoder", "make_encoder"]


def make_encoder(kind: str, model: str = "", threads: int = 0, cache_dir: Path | None = None) -> Encoder:
    """'onnx' / 'onnx-int8' (ONNX Runtime; export cached under cache_dir/onnx), 'sentence' (torch) or 'stub'."""
    if kind == "stub":
        return StubEncoder()
    if kind == "sentence":
        return SentenceEncoder(model, threads)
    if kind in ("onnx", "onnx-int8"):
        cache_dir = Path(cache_dir) if cache_dir is not None else Settings.from_env().cache_dir
        return OnnxEncoder(model, threads, "int8" if kind == "onnx-int8" else "fp32", cache_dir)
    raise ValueError(f"unknown encoder {kind!r}; use one of {', '.join(KINDS)}")
