"""The default encoder: the packaged model exported to ONNX, checked against sentence-transformers on the same texts."""
import json
import re

import numpy as np
import pytest

from embeddings.encoders import make_encoder
from embeddings.encoders import onnx as ox

TEXTS = ["Acute myocardial infarction, unspecified", "heart attack", "Resection of gallbladder, percutaneous "
         "endoscopic approach", "bleeding from the gut", "Fracture of neck of left femur, initial encounter",
         "short", "Insertion of infusion device into superior vena cava, percutaneous approach " * 6]


def test_mean_pooling_ignores_padding_and_normalises():
    hidden = np.array([[[1.0, 0.0], [3.0, 0.0], [100.0, 100.0]]], dtype=np.float32)
    pooled = ox.mean_pool_normalize(hidden, np.array([[1, 1, 0]]))
    assert np.allclose(pooled, [[1.0, 0.0]])


def test_pipelines_other_than_mean_pooling_are_refused(tmp_path):
    (tmp_path / "1_Pooling").mkdir()
    (tmp_path / "modules.json").write_text(json.dumps([
        {"path": "", "type": "sentence_transformers.models.Transformer"},
        {"path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]))
    (tmp_path / "1_Pooling" / "config.json").write_text(json.dumps({"pooling_mode_cls_token": True}))
    with pytest.raises(ValueError, match="only mean pooling"):
        ox.pipeline_config(tmp_path)


def test_unknown_variant_and_missing_model_path_are_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="unknown ONNX variant"):
        ox.ensure_onnx(tmp_path, "m", tmp_path, "fp16")
    with pytest.raises(ValueError, match="not a directory"):
        make_encoder("onnx", str(tmp_path / "nowhere"), cache_dir=tmp_path)
    with pytest.raises(ValueError, match="unknown encoder"):
        make_encoder("tensorrt")


@pytest.fixture(scope="module")
def onnx_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("onnx-cache")


@pytest.mark.model
def test_onnx_vectors_match_sentence_transformers(onnx_cache):
    reference = make_encoder("sentence").encode(TEXTS)
    fp32 = make_encoder("onnx", cache_dir=onnx_cache)
    assert re.fullmatch(r"all-MiniLM-L6-v2@[0-9a-f]{12}-onnx", fp32.name) and fp32.dim == 384
    vectors = fp32.encode(TEXTS)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert (vectors * reference).sum(axis=1).min() > 0.9999
    int8 = make_encoder("onnx-int8", cache_dir=onnx_cache).encode(TEXTS)
    assert (int8 * reference).sum(axis=1).min() > 0.95  # quantised: close, not equal


@pytest.mark.model
def test_export_is_cached_and_a_damaged_file_is_exported_again(onnx_cache):
    make_encoder("onnx", cache_dir=onnx_cache)
    before = dict(ox.EXPORTS)
    encoder = make_encoder("onnx", cache_dir=onnx_cache)
    assert ox.EXPORTS == before, "an unchanged model reuses its export"
    with open(encoder.path, "r+b") as fh:
        fh.truncate(1000)
    again = make_encoder("onnx", cache_dir=onnx_cache)
    assert ox.EXPORTS["fp32"] == before["fp32"] + 1 and again.path == encoder.path
    assert again.encode(["heart attack"]).shape == (1, 384)


@pytest.mark.model
def test_token_counts_are_unpadded_and_padding_never_changes_a_vector(onnx_cache):
    encoder = make_encoder("onnx", cache_dir=onnx_cache)
    counts = encoder.token_counts(TEXTS)
    assert counts[TEXTS.index("short")] == 3  # [CLS] short [SEP], not padded to the batch's longest
    assert counts[-1] == max(counts) and counts[0] < counts[-1]
    # Batch membership changes padding, never a vector: one text alone and among longer ones encode alike.
    alone = encoder.encode(["heart attack"])
    among = encoder.encode(TEXTS)[TEXTS.index("heart attack")]
    assert np.allclose(alone[0], among, atol=1e-5)


@pytest.mark.model
def test_build_batches_on_one_session_per_core_give_the_same_vectors_in_order(onnx_cache):
    encoder = make_encoder("onnx-int8", threads=2, cache_dir=onnx_cache)
    batches = [TEXTS[:3], TEXTS[3:5], TEXTS[5:], ["heart attack"]]
    together = encoder.encode_batches(batches)
    assert len(encoder._singles) == 2, "a build runs one single-threaded session per core"
    for batch, vectors in zip(batches, together):
        assert np.array_equal(vectors, encoder.encode(batch))  # int8 too: only the threads differ, not the batches
