"""A model is identified by the bytes of its files, not by its folder name."""
from embeddings.encoders.base import model_digest


def _model(folder, config: str):
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(config)
    (folder / "tokenizer.json").write_text('{"vocab": ["a"]}')
    (folder / "model.safetensors").write_bytes(b"\x00weights")
    return folder


def test_two_models_in_folders_of_the_same_name_get_different_identities(tmp_path):
    first = _model(tmp_path / "one" / "my-model", '{"hidden_size": 384}')
    second = _model(tmp_path / "two" / "my-model", '{"hidden_size": 768}')
    assert model_digest(first) != model_digest(second)


def test_a_model_updated_in_place_changes_identity_and_a_copy_keeps_it(tmp_path):
    model = _model(tmp_path / "m", '{"hidden_size": 384}')
    before = model_digest(model)
    assert model_digest(_model(tmp_path / "copy" / "m", '{"hidden_size": 384}')) == before
    (model / "model.safetensors").write_bytes(b"\x00weights, fine-tuned")
    assert model_digest(model) != before
