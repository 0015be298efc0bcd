"""Fine-tuning end to end on a handful of pairs: what it saves is a model the build can encode documents with."""
from types import SimpleNamespace

import pytest

from embeddings.encoders.base import resolve_model
from embeddings.encoders.onnx import pipeline_config
from embeddings.records import Code, Note
from embeddings.training import train as tr

CODES = [
    Code("icd10cm", "O47", "False labor", False, "category", notes=(Note("includes", "threatened labor"),)),
    Code("icd10cm", "O47.0", "False labor before 37 completed weeks of gestation", True, "code", ("O47",),
         short="False labor before 37 completed weeks of gestation"),
    Code("icd10pcs", "0FT44ZZ", "Resection of Gallbladder, Percutaneous Endoscopic Approach", True, "code",
         terms=("Cholecystectomy",), short="Resection of Gallbladder, Perc Endo Approach"),
]


@pytest.mark.model
def test_a_fine_tuned_model_encodes_at_the_base_models_length_not_the_training_length(tmp_path, monkeypatch):
    monkeypatch.setattr(tr, "load_codesets", lambda _request: [SimpleNamespace(codes=CODES)])
    exclusions = tmp_path / "excluded.tsv"
    exclusions.write_text("")
    manifest = tr.train(tmp_path / "model", exclusions, log=lambda _m: None)
    base, _name = resolve_model("")
    assert manifest["data"]["pairs"] > 0
    assert manifest["training"]["max_seq_length"] < pipeline_config(base)["max_seq_length"]
    # Saved at the training length, every document longer than it would be cut in the index.
    assert pipeline_config(tmp_path / "model")["max_seq_length"] == pipeline_config(base)["max_seq_length"]
    # The int8-packed copy the repository can keep encodes as the model it was packed from.
    from embeddings.encoders import packed
    from embeddings.encoders.sentence import SentenceEncoder
    packed.pack(tmp_path / "model", tmp_path / "model-int8")
    monkeypatch.setenv("MEDCODES_CACHE_DIR", str(tmp_path / "cache"))
    texts = ["threatened labor", "Resection of Gallbladder, Percutaneous Endoscopic Approach"]
    full = SentenceEncoder(str(tmp_path / "model")).encode(texts)
    small = SentenceEncoder(str(tmp_path / "model-int8"))
    assert small.name.startswith("model-int8@")
    assert (full * small.encode(texts)).sum(axis=1).min() > 0.995
