"""The real all-MiniLM-L6-v2 model, loaded offline from its package, on a few hundred real codes."""
import re

import pytest

from embeddings.index.build import BuildRequest, build_index
from embeddings.settings import Settings

pytestmark = pytest.mark.model

PREFIXES = ("I2", "K92", "K80", "0FT4", "0FB4", "0DTJ", "J18")


@pytest.fixture(scope="module")
def real_engine(tmp_path_factory):
    from service.search.engine import SearchEngine
    root = tmp_path_factory.mktemp("real-model")
    settings = Settings.from_env(index_dir=root / "index", cache_dir=root / "cache", encoder="sentence", model="")
    report = build_index(settings, BuildRequest(prefixes=PREFIXES), log=lambda _m: None)
    assert 200 <= report.counts["codes"] <= 1000 and report.encoded == report.counts["codes"]
    return SearchEngine.open(settings)


def test_manifest_names_the_packaged_model(real_engine):
    model = real_engine.store.manifest["model"]
    assert model["dim"] == 384 and re.fullmatch(r"all-MiniLM-L6-v2@[0-9a-f]{12}", model["name"])


def test_lay_words_find_myocardial_infarction(real_engine):
    codes = [h.code for h in real_engine.search("heart attack", system="icd10cm", limit=5).hits]
    assert any(c.startswith("I21") for c in codes), codes


def test_dense_path_alone_understands_lay_words(real_engine):
    codes = [h.code for h in real_engine.search("heart attack", system="icd10cm", limit=10, mode="dense").hits]
    assert any(c.startswith(("I21", "I22")) for c in codes), codes


def test_laparoscopic_gallbladder_removal(real_engine):
    codes = [h.code for h in real_engine.search("laparoscopic gallbladder removal", system="icd10pcs", limit=5).hits]
    assert any(c.startswith("0FT44") for c in codes), codes


def test_code_query_is_exact_first(real_engine):
    assert real_engine.search("k922").hits[0].code == "K92.2"
