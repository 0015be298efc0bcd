"""A sentence-transformers model kept small enough for the repository: int8 weight rows, rebuilt into the cache."""
from __future__ import annotations

import io
import json
import os
import shutil
import uuid
from pathlib import Path

import numpy as np

from embeddings.encoders.base import MODEL_FILES
from embeddings.files import DigestMemo, file_digest

WEIGHTS = "weights.int8.npz"
RECORD = "packed.json"
SOURCE_WEIGHTS = "model.safetensors"
FORMAT = 1  # bump when the packing recipe changes: a rebuilt folder from another recipe is never reused


class PackedModelError(ValueError):
    """A packed model folder is incomplete or its weights do not match its record."""


def is_packed(path: Path) -> bool:
    return (Path(path) / WEIGHTS).is_file() and not (Path(path) / SOURCE_WEIGHTS).exists()


def pack(model_dir: Path, out: Path) -> dict:
    """Write `out`: the folder's other model files (configs, tokenizer) as they are, and its weights with each
    matrix row as int8 times one float32 scale (biases and layer norms stay float32). Returns the record."""
    from safetensors.numpy import load_file

    model_dir, out = Path(model_dir), Path(out)
    tensors = load_file(str(model_dir / SOURCE_WEIGHTS))
    arrays: dict[str, np.ndarray] = {}
    for name in sorted(tensors):
        value = tensors[name]
        if value.dtype.kind == "f" and value.ndim == 2:
            scale = np.abs(value).max(axis=1).astype(np.float32) / 127.0
            scale[scale == 0] = 1.0
            arrays[f"q:{name}"] = np.clip(np.rint(value / scale[:, None]), -127, 127).astype(np.int8)
            arrays[f"s:{name}"] = scale
        else:
            arrays[f"r:{name}"] = value
    tmp = out.with_name(f".{out.name}.{uuid.uuid4().hex}")
    tmp.mkdir(parents=True)
    # Model files only: the model card sentence-transformers writes (README.md) is not part of the model.
    for file in sorted(p for p in model_dir.rglob("*")
                       if p.is_file() and p.name != SOURCE_WEIGHTS and MODEL_FILES.match(p.name)):
        target = tmp / file.relative_to(model_dir)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(file, target)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    (tmp / WEIGHTS).write_bytes(buffer.getvalue())
    record = {"format": FORMAT, "weights_sha256": file_digest(tmp / WEIGHTS), "tensors": len(tensors),
              "quantised": sum(1 for k in arrays if k.startswith("q:"))}
    (tmp / RECORD).write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    if out.exists():
        shutil.rmtree(out)
    os.replace(tmp, out)
    return record


def unpacked(packed_dir: Path, cache_dir: Path, memo: DigestMemo | None = None) -> Path:
    """The sentence-transformers folder rebuilt from a packed one under cache_dir/models, made once (written aside,
    then renamed into place) and reused while the packed weights are unchanged. `memo` spares a start re-reading
    weights hashed before."""
    packed_dir = Path(packed_dir)
    record = _record(packed_dir)
    digest = (memo.digest if memo is not None else file_digest)(packed_dir / WEIGHTS)
    if digest != record.get("weights_sha256"):
        raise PackedModelError(f"{packed_dir / WEIGHTS}: sha256 {digest[:12]}… does not match the "
                               f"{record.get('weights_sha256', '?')[:12]}… its {RECORD} records")
    target = Path(cache_dir) / "models" / f"{packed_dir.name}-{digest[:16]}-v{FORMAT}"
    if (target / SOURCE_WEIGHTS).is_file():
        return target
    from safetensors.numpy import save_file

    with np.load(packed_dir / WEIGHTS) as data:
        names = sorted({key.split(":", 1)[1] for key in data.files})
        tensors = {}
        for name in names:
            if f"r:{name}" in data.files:
                tensors[name] = data[f"r:{name}"]
            else:
                tensors[name] = (data[f"q:{name}"].astype(np.float32) * data[f"s:{name}"][:, None]).astype(np.float32)
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}")
    tmp.mkdir(parents=True)
    try:
        for file in sorted(p for p in packed_dir.rglob("*") if p.is_file() and p.name not in (WEIGHTS, RECORD)):
            dest = tmp / file.relative_to(packed_dir)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(file, dest)
        save_file(tensors, str(tmp / SOURCE_WEIGHTS), metadata={"format": "pt"})
        if target.exists() and not (target / SOURCE_WEIGHTS).is_file():  # a folder left incomplete by hand
            shutil.rmtree(target, ignore_errors=True)
        try:
            os.rename(tmp, target)
        except OSError:  # another process rebuilt it first: theirs is the same bytes
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def _record(packed_dir: Path) -> dict:
    try:
        record = json.loads((packed_dir / RECORD).read_text())
    except (OSError, ValueError) as exc:
        raise PackedModelError(f"{packed_dir}: no readable {RECORD} ({exc})") from None
    if record.get("format") != FORMAT:
        raise PackedModelError(f"{packed_dir}: packed with format {record.get('format')}, this version reads {FORMAT}")
    return record
