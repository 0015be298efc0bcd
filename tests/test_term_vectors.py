"""A vector per official synonym: written once per distinct text, held-out terms left out, read by the ranker."""
from pathlib import Path

import numpy as np

from embeddings.encoders.stub import StubEncoder
from embeddings.index import term_vectors
from embeddings.index.build import BuildRequest, build_index
from embeddings.index.store import IndexStore
from embeddings.settings import Settings
from service.search import query as q
from service.search import ranker
from service.search.engine import DEFAULT_FEATURES

FIX = Path(__file__).parent / "fixtures"
MINI = BuildRequest(systems=("icd10cm",), sources={"icd10cm": FIX / "tabular-mini.xml"})


class Recording(StubEncoder):
    def __init__(self):
        super().__init__()
        self.seen: list[str] = []

    def encode(self, texts):
        self.seen += list(texts)
        return super().encode(texts)


def test_each_distinct_synonym_is_encoded_once_and_a_row_scores_by_its_nearest(tmp_path):
    encoder = Recording()
    rows = [("heart attack", "cardiac infarction"), (), ("heart attack",), ("bed sore",)]
    assert term_vectors.write(tmp_path, rows, encoder.encode) == 3
    assert sorted(encoder.seen) == ["bed sore", "cardiac infarction", "heart attack"]
    terms = term_vectors.TermVectors.read(tmp_path)
    assert terms is not None
    query = encoder.encode(["cardiac infarction"])[0]
    best = terms.best([0, 1, 2, 3, 99], query)
    assert set(best) == {0, 2, 3}  # a row without synonyms, or past the end, has no score
    assert best[0] > 0.999 and best[0] > best[2]  # row 0 scores by its nearer synonym
    assert abs(best[2] - float(encoder.encode(["heart attack"])[0] @ query)) < 1e-6


def test_nearest_synonyms_give_their_codes_and_skip_a_synonym_naming_a_family(tmp_path):
    encoder = StubEncoder()
    rows = [("kidney stone",), ("kidney stone", "renal calculus"), ("heart attack",)] + [("stone removal",)] * 6
    term_vectors.write(tmp_path, rows, encoder.encode)
    terms = term_vectors.TermVectors.read(tmp_path)
    assert terms is not None
    found = terms.nearest(encoder.encode(["kidney stone"])[0], terms=2, max_owners=5)
    assert [row for row, _, _ in found[:2]] == [0, 1] and found[0][1] > 0.999
    assert found[0][2] == found[1][2] == "kidney stone"  # each row with the synonym it was found by
    assert all(row < 3 for row, _, _ in found)  # 'stone removal' names six codes: a family, not a candidate
    assert {row for row, _, _ in terms.nearest(encoder.encode(["stone removal"])[0], 1, 6)} == set(range(3, 9))


def test_the_meaning_path_finds_a_code_by_one_of_its_synonyms(engine):
    store = engine.store
    row = store.code_id("icd10cm", "I10")
    text = "high blood pressure"
    vector = engine.embed(text)
    nearest = {i: score for i, score, _ in store.term_vectors.nearest(vector, 40, 5)}
    assert row in nearest
    found = engine.meaning.search(text, "icd10cm", 5, synonyms=True)
    on = {c.id: c.score for c in found}
    off = {c.id: c.score for c in engine.meaning.search(text, "icd10cm", 5)}
    assert on.get(row) == max(nearest[row], off.get(row, -1.0)) and on[row] >= max(off.values())
    assert all(store.billable[i] or store.system_of[i] == "icd10cm" for i in on)
    assert nearest[row] > off.get(row, -1.0)  # nearer than I10's own vector: found by the synonym, named
    reason = next(c.reason for c in found if c.id == row)
    assert reason.startswith("semantic ") and reason.endswith("synonym: high blood pressure")


def test_an_index_without_synonym_vectors_reads_as_none(tmp_path):
    assert term_vectors.TermVectors.read(tmp_path) is None
    term_vectors.write(tmp_path, [(), ()], StubEncoder().encode)
    terms = term_vectors.TermVectors.read(tmp_path)
    assert terms is not None and terms.best([0, 1], np.ones(384, dtype=np.float32)) == {}


def _build(tmp_path, request, encoder):
    settings = Settings.from_env(index_dir=tmp_path / "index", cache_dir=tmp_path / "cache", encoder="stub")
    build_index(settings, request, encoder=encoder, log=lambda _m: None)
    return IndexStore(settings.index_dir)


def test_the_build_embeds_official_synonyms_and_leaves_held_out_ones_out(tmp_path):
    encoder = Recording()
    store = _build(tmp_path / "all", MINI, encoder)
    assert {"Sinistral widget malady", "widget trouble"} <= set(encoder.seen)
    row = store.code_id("icd10cm", "Q10.0")
    query = StubEncoder().encode(["sinistral widget malady"])[0]
    assert store.term_vectors is not None and store.term_vectors.best([row], query)[row] > 0.999

    held = BuildRequest(systems=MINI.systems, sources=MINI.sources,
                        held_out={("icd10cm", "Q10.0"): frozenset({"Sinistral widget malady"})})
    encoder = Recording()
    store = _build(tmp_path / "held", held, encoder)
    assert "Sinistral widget malady" not in encoder.seen  # neither in the code's vector nor on its own
    row = store.code_id("icd10cm", "Q10.0")
    assert store.term_vectors is not None and row not in store.term_vectors.best([row], query)


def test_the_ranker_reads_the_nearer_of_code_and_synonym_and_terms_switches_it_off(engine):
    text = "high blood pressure"
    _parsed, u, fusion = engine.candidates(text, q.parse(text), None, "hybrid", DEFAULT_FEATURES)
    assert fusion.term_similarity and engine.store.term_vectors is not None
    head = fusion.ranked()[:ranker.RANK_DEPTH]
    x = ranker.features(head, fusion, engine.store.rows(head), engine.store, u)
    col = {name: n for n, name in enumerate(ranker.FEATURES)}
    assert (x[:, col["synonym_dense"]] >= x[:, col["dense_score"]] - 1e-9).all()
    assert (x[:, col["synonym_dense"]] > x[:, col["dense_score"]] + 1e-6).any()
    assert x[:, col["synonym_dense_gap"]].max() == 0.0
    _parsed, u, off = engine.candidates(text, q.parse(text), None, "hybrid", DEFAULT_FEATURES - {"terms"})
    assert off.term_similarity == {}
    x = ranker.features(head, off, engine.store.rows(head), engine.store, u)
    assert np.allclose(x[:, col["synonym_dense"]], x[:, col["dense_score"]])
