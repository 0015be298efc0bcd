"""The int8-packed model folder: packed, rebuilt into the cache within rounding, and refused when tampered with."""
import json

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from embeddings.encoders import packed
from embeddings.encoders.base import model_digest, resolve_model
from embeddings.files import DigestMemo


def _model(folder, seed=0):
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    tensors = {"embeddings.word_embeddings.weight": rng.normal(size=(50, 8)).astype(np.float32),
               "encoder.layer.0.dense.weight": rng.normal(scale=0.05, size=(8, 8)).astype(np.float32),
               "encoder.layer.0.dense.bias": rng.normal(size=8).astype(np.float32),
               "embeddings.zero_row.weight": np.zeros((2, 8), dtype=np.float32),
               "embeddings.position_ids": np.arange(8, dtype=np.int64)[None, :]}
    save_file(tensors, str(folder / "model.safetensors"))
    (folder / "config.json").write_text(json.dumps({"hidden_size": 8}))
    (folder / "README.md").write_text("a generated model card, not part of the model")
    (folder / "1_Pooling").mkdir()
    (folder / "1_Pooling" / "config.json").write_text(json.dumps({"pooling_mode_mean_tokens": True}))
    return tensors


def test_pack_then_unpack_gives_the_weights_back_within_one_int8_step(tmp_path):
    tensors = _model(tmp_path / "m")
    record = packed.pack(tmp_path / "m", tmp_path / "m-int8")
    assert packed.is_packed(tmp_path / "m-int8") and not packed.is_packed(tmp_path / "m")
    assert record["quantised"] == 3 and record["tensors"] == 5
    assert (tmp_path / "m-int8" / "1_Pooling" / "config.json").is_file()
    assert not (tmp_path / "m-int8" / "README.md").exists()
    rebuilt = packed.unpacked(tmp_path / "m-int8", tmp_path / "cache")
    assert rebuilt.parent == tmp_path / "cache" / "models"
    back = load_file(str(rebuilt / "model.safetensors"))
    assert sorted(back) == sorted(tensors)
    for name, value in tensors.items():
        assert back[name].dtype == value.dtype and back[name].shape == value.shape
        if value.ndim == 2 and value.dtype.kind == "f":
            step = np.abs(value).max(axis=1, keepdims=True) / 127
            assert np.all(np.abs(back[name] - value) <= step / 2 + 1e-7)
        else:
            assert np.array_equal(back[name], value)
    assert (rebuilt / "config.json").read_text() == (tmp_path / "m" / "config.json").read_text()
    # Rebuilt once, then reused; the same bytes each time, so the model's identity (the index's key) is stable.
    digest = model_digest(rebuilt)
    again = packed.unpacked(tmp_path / "m-int8", tmp_path / "cache2")
    assert model_digest(again) == digest
    assert resolve_model(str(tmp_path / "m-int8"), tmp_path / "cache") == (rebuilt, "m-int8")
    (rebuilt / "model.safetensors").unlink()  # a cache folder emptied by hand is made again, not served broken
    assert model_digest(packed.unpacked(tmp_path / "m-int8", tmp_path / "cache")) == digest


def test_a_packed_folder_whose_weights_changed_is_refused(tmp_path):
    _model(tmp_path / "m")
    packed.pack(tmp_path / "m", tmp_path / "m-int8")
    memo = DigestMemo(tmp_path / "memo")  # a digest remembered from before must not hide the change
    packed.unpacked(tmp_path / "m-int8", tmp_path / "cache", memo)
    _model(tmp_path / "other", seed=1)
    packed.pack(tmp_path / "other", tmp_path / "other-int8")
    (tmp_path / "m-int8" / packed.WEIGHTS).write_bytes((tmp_path / "other-int8" / packed.WEIGHTS).read_bytes())
    with pytest.raises(packed.PackedModelError, match="does not match"):
        packed.unpacked(tmp_path / "m-int8", tmp_path / "cache", memo)
    (tmp_path / "other-int8" / packed.RECORD).unlink()
    with pytest.raises(packed.PackedModelError, match="no readable"):
        packed.unpacked(tmp_path / "other-int8", tmp_path / "cache")
