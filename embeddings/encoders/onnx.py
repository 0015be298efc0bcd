"""ONNX Runtime encoder: the sentence model's transformer exported locally to ONNX (fp32 or int8), cached by source."""
from __future__ import annotations

import fcntl
import json
import os
import re
import threading
import uuid
import warnings
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Sequence

import numpy as np

from embeddings.encoders.base import model_digest, resolve_model, tokenizer_words
from embeddings.files import DigestMemo, file_digest

VARIANTS = {"fp32": "onnx", "int8": "onnx-int8"}
EXPORT_VERSION = 1  # bump whenever the export or quantisation recipe changes, so old files are not reused
OPSET = 17
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
EXPORTS = {"fp32": 0, "int8": 0}  # files written by this process, per variant (tests check reuse with it)


class OnnxModelError(RuntimeError):
    """The model cannot be exported or its cached ONNX file cannot be loaded, even after a fresh export."""


def pipeline_config(path: Path) -> dict:
    """Max sequence length and lower-casing of the sentence-transformers pipeline; only Transformer + mean pooling."""
    modules = _read_json(path / "modules.json", [])
    kinds = [m.get("type", "").rsplit(".", 1)[-1] for m in modules]
    if kinds[:2] != ["Transformer", "Pooling"] or any(k != "Normalize" for k in kinds[2:]):
        raise ValueError(f"{path}: only Transformer + Pooling (+ Normalize) pipelines can run on ONNX, not {kinds}")
    pooling = _read_json(path / modules[1].get("path", "1_Pooling") / "config.json", {})
    # sentence-transformers < 6 writes one flag per mode ("pooling_mode_mean_tokens": true); 6 and later write
    # "pooling_mode": "mean".
    modes = sorted(k for k, v in pooling.items() if k.startswith("pooling_mode_") and v)
    if isinstance(pooling.get("pooling_mode"), str):
        modes = sorted(set(modes) | {f"pooling_mode_{pooling['pooling_mode']}_tokens"})
    if modes != ["pooling_mode_mean_tokens"]:
        raise ValueError(f"{path}: only mean pooling is supported on ONNX, the model asks for {modes}")
    bert = _read_json(path / "sentence_bert_config.json", {})
    tokenizer = _read_json(path / "tokenizer_config.json", {})
    limit = int(tokenizer.get("model_max_length", 512))
    max_len = min(int(bert.get("max_seq_length") or limit), limit)
    return {"max_seq_length": max_len, "do_lower_case": bool(bert.get("do_lower_case", False))}


def source_key(path: Path, memo: DigestMemo | None = None) -> str:
    """The model's content digest salted with the export recipe: a changed model or recipe never reuses an export."""
    return model_digest(path, f"medcodes-onnx-v{EXPORT_VERSION}-opset{OPSET}", memo)


def onnx_path(cache_dir: Path, name: str, key: str, variant: str) -> Path:
    slug = re.sub(r"[^A-Za-z0-9_.-]", "_", name)
    return Path(cache_dir) / "onnx" / f"{slug}-{key[:16]}-{variant}.onnx"


def ensure_onnx(path: Path, name: str, cache_dir: Path, variant: str, memo: DigestMemo | None = None) -> Path:
    """The verified cached ONNX file for (model, variant), exported (and quantised) under a lock if missing or bad."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown ONNX variant {variant!r}; use one of {sorted(VARIANTS)}")
    key = source_key(path, memo)
    target = onnx_path(cache_dir, name, key, variant)
    target.parent.mkdir(parents=True, exist_ok=True)
    with _lock(target.parent / ".lock"):
        if _verified(target, key, memo):
            return target
        if variant == "fp32":
            _export(path, target, key)
        else:
            fp32 = onnx_path(cache_dir, name, key, "fp32")
            if not _verified(fp32, key, memo):
                _export(path, fp32, key)
            _quantize(fp32, target, key)
        EXPORTS[variant] += 1
    return target


class OnnxEncoder:
    """The sentence model on ONNX Runtime: same tokenisation, mean pooling over the mask and L2 normalisation."""

    def __init__(self, model_path: str = "", threads: int = 0, variant: str = "fp32",
                 cache_dir: Path | str = "data/cache", batch_size: int = 64):
        from tokenizers import Tokenizer

        memo = DigestMemo(Path(cache_dir))  # each start would hash the model and its export again otherwise
        path, base = resolve_model(model_path, Path(cache_dir), memo)
        self.digest = model_digest(path, memo=memo)
        self.name = f"{base}@{self.digest[:12]}-{VARIANTS.get(variant, variant)}"
        self.variant, self.batch_size = variant, max(1, batch_size)
        config = pipeline_config(path)
        self._lower = config["do_lower_case"]
        self.tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=config["max_seq_length"])
        pad_id = self.tokenizer.token_to_id("[PAD]")
        pad_id = _read_json(path / "config.json", {}).get("pad_token_id", 0) if pad_id is None else pad_id
        self.tokenizer.enable_padding(pad_id=pad_id, pad_token=self.tokenizer.id_to_token(pad_id) or "[PAD]")
        self.threads = threads or len(os.sched_getaffinity(0))
        self.path = ensure_onnx(path, base, Path(cache_dir), variant, memo)
        memo.save()
        self._session = self._open(self.threads)
        self._singles: list = []  # one-thread sessions for whole builds (encode_batches), opened when first asked
        self._inputs = [i.name for i in self._session.get_inputs()]
        self._counter = None  # a copy of the tokenizer without padding, made when first asked to count
        self.dim = int(self._session.get_outputs()[0].shape[-1])

    def _open(self, threads: int):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Threads sleep between operators: spinning ones took cores from the tokenizer and from request threads (a
        # build encoded no faster with them once batches were formed by token count).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            return ort.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # a file that verified yet does not load: say which, never fall back silently
            raise OnnxModelError(f"ONNX Runtime cannot load {self.path}: {exc}; delete it to re-export") from exc

    def vocabulary(self) -> frozenset[str]:
        return tokenizer_words(self.tokenizer.get_vocab())

    def token_counts(self, texts: Sequence[str]) -> list[int]:
        """Tokens per text after truncation, without padding (batches of similar counts pad least)."""
        if self._counter is None:
            self._counter = self.tokenizer.__class__.from_str(self.tokenizer.to_str())
            self._counter.no_padding()
        texts = [t.lower() if self._lower else t for t in texts]
        return [len(e.ids) for e in self._counter.encode_batch(texts)]

    def encode(self, texts: Sequence[str], session=None) -> np.ndarray:
        texts = [t.lower() if self._lower else t for t in texts]
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))  # similar lengths pad less
        for start in range(0, len(order), self.batch_size):
            rows = order[start:start + self.batch_size]
            out[rows] = self._encode_batch([texts[i] for i in rows], session)
        return out

    def encode_batches(self, batches: Sequence[Sequence[str]]) -> list[np.ndarray]:
        """Many batches at once, as a build asks: one single-threaded session per core, each taking the next batch.
        On two cores this encoded 6-12 % more texts a second than one session using both (intra-operator threads wait
        for each other at every operator); each batch's vectors are identical either way."""
        if self.threads < 2 or len(batches) < 2:
            return [self.encode(b) for b in batches]
        if not self._singles:
            self._singles = [self._open(1) for _ in range(self.threads)]
        out: list[np.ndarray] = [np.zeros((0, self.dim), np.float32)] * len(batches)
        turn = iter(range(len(batches)))
        lock = threading.Lock()

        def work(session) -> None:
            while True:
                with lock:
                    n = next(turn, None)
                if n is None:
                    return
                out[n] = self.encode(batches[n], session)

        with ThreadPoolExecutor(len(self._singles), thread_name_prefix="medcodes-encode") as pool:
            for done in [pool.submit(work, session) for session in self._singles]:
                done.result()
        return out

    def _encode_batch(self, texts: list[str], session=None) -> np.ndarray:
        encodings = self.tokenizer.encode_batch(texts)
        feeds = {"input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
                 "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
                 "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64)}
        hidden = (session or self._session).run(None, {k: feeds[k] for k in self._inputs})[0]
        return mean_pool_normalize(hidden, feeds["attention_mask"])


def mean_pool_normalize(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """sentence-transformers mean pooling (tokens under the mask) followed by L2 normalisation (eps as torch)."""
    weights = mask[..., None].astype(np.float32)
    summed = (hidden * weights).sum(axis=1)
    pooled = summed / np.clip(weights.sum(axis=1), 1e-9, None)
    norms = np.linalg.norm(pooled, axis=1, keepdims=True)
    return (pooled / np.maximum(norms, 1e-12)).astype(np.float32)


def _export(path: Path, target: Path, key: str) -> None:
    import torch
    from transformers import AutoModel

    model = AutoModel.from_pretrained(str(path), attn_implementation="eager").eval()

    class Hidden(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.inner(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state

    ids = torch.tensor([[101, 7592, 2088, 102, 0], [101, 7592, 2088, 2154, 102]], dtype=torch.long)
    example = (ids, (ids != 0).long(), torch.zeros_like(ids))
    axes = {n: {0: "batch", 1: "sequence"} for n in (*INPUTS, "last_hidden_state")}
    tmp = _tmp_name(target)
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(Hidden(model).eval(), example, str(tmp), input_names=list(INPUTS),
                              output_names=["last_hidden_state"], dynamic_axes=axes, opset_version=OPSET,
                              do_constant_folding=True, dynamo=False)
        _commit(tmp, target, key)
    except Exception as exc:
        tmp.unlink(missing_ok=True)
        raise OnnxModelError(f"exporting {path} to ONNX failed: {exc}") from exc


def _quantize(fp32: Path, target: Path, key: str) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    tmp = _tmp_name(target)
    try:
        quantize_dynamic(str(fp32), str(tmp), weight_type=QuantType.QInt8, per_channel=True,
                         op_types_to_quantize=["MatMul"])
        _commit(tmp, target, key)
    except Exception as exc:
        tmp.unlink(missing_ok=True)
        raise OnnxModelError(f"quantising {fp32} to int8 failed: {exc}") from exc


def _commit(tmp: Path, target: Path, key: str) -> None:
    """Rename the finished file into place, then its sidecar (size, sha256, source key): both atomically."""
    meta = {"source_key": key, "size": tmp.stat().st_size, "sha256": file_digest(tmp)}
    os.replace(tmp, target)
    side = _tmp_name(_sidecar(target))
    side.write_text(json.dumps(meta))
    os.replace(side, _sidecar(target))


def _verified(target: Path, key: str, memo: DigestMemo | None = None) -> bool:
    """True when the file and its sidecar agree (source key, size, sha256); a truncated or altered file is not."""
    meta = _read_json(_sidecar(target), None)
    if not isinstance(meta, dict) or not target.is_file() or meta.get("source_key") != key:
        return False
    digest = memo.digest(target) if memo is not None else file_digest(target)
    return meta.get("size") == target.stat().st_size and meta.get("sha256") == digest


def _sidecar(target: Path) -> Path:
    return target.with_name(target.name + ".json")


def _tmp_name(target: Path) -> Path:
    return target.with_name(f".{target.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:6]}")


@contextmanager
def _lock(path: Path):
    with open(path, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)  # concurrent builds or server workers wait for one export
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _read_json(path: Path, default):
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return default
