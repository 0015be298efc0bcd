"""Similar Codes: blended candidates, reasons in words, folded near-duplicates, crosswalks, and every entry point."""
import json

import numpy as np
import pytest

from embeddings import groupings as gp
from embeddings.codesets import icd9
from embeddings.codesets.base import package_file
from embeddings.index.build import BuildRequest, build_index
from embeddings.records import code_key
from embeddings.settings import Settings
from service import cli
from service.errors import UnknownCode
from service.search.engine import SearchEngine
from service.search.query import QueryError
from service.similar.data import similar_data
from service.similar.rank import crosswalks, neighbours, similar_codes
from service.similar.relations import SEMANTIC
from tests.conftest import FIXTURES


def _heads(engine, suggestions):
    data = similar_data(engine.store)
    return [int(data.tables.head[engine.store.code_id(s.system, s.code)]) for s in suggestions]


def _ccs_label(system, key):
    path, labels = (gp.CCS_DX, gp.CCS_DX_LABELS) if system == gp.CM else (gp.CCS_PR, gp.CCS_PR_LABELS)
    rows = gp.read_ccs(package_file(*path), system, gp.read_level_labels(package_file(*labels)))
    return next(m.label for m in rows if m.key == key and m.scheme == "ccs")


@pytest.mark.parametrize("system, code", [("icd10cm", "I21.01"), ("icd10cm", "S72.001A"), ("icd10cm", "K92.2"),
                                          ("icd10pcs", "0DTJ4ZZ"), ("icd10pcs", "0SR9019")])
def test_every_suggestion_is_another_billable_code_with_reasons_in_ranked_order(engine, system, code):
    found = similar_codes(engine, system, code, 8)
    assert 0 < len(found) <= 8
    assert all(s.system == system and s.code != code and s.billable for s in found)
    assert all(s.reasons and all(isinstance(r, str) and r for r in s.reasons) for s in found)
    assert [s.score for s in found] == sorted((s.score for s in found), reverse=True)
    assert len({s.code for s in found}) == len(found)


def test_same_ccs_group_is_named_with_the_ahrq_label(engine):
    label = _ccs_label(gp.CM, code_key("I21.01"))
    found = similar_codes(engine, "icd10cm", "I21.01", 10)
    data = similar_data(engine.store)
    q = engine.store.code_id("icd10cm", "I21.01")
    for s in found:
        same = data.tables.single["ccs"][engine.store.code_id(s.system, s.code)] == data.tables.single["ccs"][q]
        assert (f"same CCS group: {label}" in s.reasons) == bool(same)
    assert any(f"same CCS group: {label}" in s.reasons for s in found)


def test_pcs_other_approach_is_said_with_the_approach_label(engine):
    found = {s.code: s for s in similar_codes(engine, "icd10pcs", "0DTJ4ZZ", 10)}
    assert "0DTJ0ZZ" in found
    approach = engine.store.record("icd10pcs", "0DTJ0ZZ").axes[4].label.lower()
    assert f"same procedure, other approach ({approach})" in found["0DTJ0ZZ"].reasons
    assert any(r.startswith("same CCS group: ") for r in found["0DTJ0ZZ"].reasons)


def test_near_duplicates_are_folded_into_one_suggestion_with_variants(engine):
    store, data = engine.store, similar_data(engine.store)
    found = similar_codes(engine, "icd10cm", "S72.001A", 10)
    heads = _heads(engine, found)
    assert len(set(heads)) == len(heads)
    plain = neighbours(data, store, store.code_id("icd10cm", "S72.001A"), 10)
    assert len(set(data.tables.head[plain])) < len(plain)  # plain neighbours do repeat: the folding is doing work
    folded = [s for s in found if s.variant_codes]
    assert folded
    for s in folded:
        head = data.tables.head[store.code_id("icd10cm", s.code)]
        assert all(data.tables.head[store.code_id("icd10cm", v)] == head for v in s.variant_codes)
        assert s.also.startswith("also: ") and all(word in s.also for word in s.variants)


def test_the_codes_own_side_variant_comes_first_with_its_reason(engine):
    found = similar_codes(engine, "icd10cm", "M17.11", 5)
    twin = found[0]
    assert twin.code == "M17.12"
    assert "same code, other side (left)" in twin.reasons
    assert twin.variant_codes == ("M17.10",) and "unspecified side" in twin.also


def test_semantic_reason_marks_faiss_neighbours_only(engine):
    store, data = engine.store, similar_data(engine.store)
    q = store.code_id("icd10cm", "K92.2")
    near = set(data.tables.head[neighbours(data, store, q, 100)].tolist())
    for s in similar_codes(engine, "icd10cm", "K92.2", 10):
        row = store.code_id(s.system, s.code)
        assert (SEMANTIC in s.reasons) == (int(data.tables.head[row]) in near)


def test_limit_unknown_code_and_bad_system(engine):
    assert len(similar_codes(engine, "icd10cm", "S72.001A", 3)) == 3
    with pytest.raises(UnknownCode):
        similar_codes(engine, "icd10cm", "Q99.99")
    with pytest.raises(QueryError):
        similar_codes(engine, "all", "I21.01")
    with pytest.raises(QueryError):
        similar_codes(engine, "icd10cm", "I21.01", 0)


def test_crosswalks_give_icd9_codes_with_cms_titles(engine):
    titles = icd9.read_titles(package_file(*gp.ICD9_SG_TITLES))
    links = crosswalks(engine, "icd10pcs", "0DTJ4ZZ")
    assert links and all(c.system == "icd9pcs" and c.relation.endswith("(GEM)") for c in links)
    for c in links:
        assert c.title == titles[c.code.replace(".", "")]
    dx = crosswalks(engine, "icd10cm", "K92.2")
    assert dx and dx[0].direction == "both" and not dx[0].approximate
    assert [c.approximate for c in dx] == sorted(c.approximate for c in dx)
    with pytest.raises(UnknownCode):
        crosswalks(engine, "icd10cm", "Q99.99")


def test_shared_icd9_code_is_a_reason(engine):
    found = similar_codes(engine, "icd10cm", "I21.01", 10)
    mine = {c.code for c in crosswalks(engine, "icd10cm", "I21.01")}
    for s in found:
        theirs = {c.code for c in crosswalks(engine, "icd10cm", s.code)}
        gem = [r for r in s.reasons if r.startswith("same ICD-9-CM code")]
        assert bool(gem) == bool(mine & theirs)


def test_api_and_cli_return_the_function_result(engine, client, fixture_settings, capsys):
    expected = json.loads(json.dumps([s.to_dict() for s in similar_codes(engine, "icd10cm", "S72.001A", 5)]))
    response = client.get("/api/codes/icd10cm/S72.001A/similar", params={"limit": 5})
    assert response.status_code == 200 and len(response.json()["similar"]) == len(expected)
    served = response.json()["similar"]  # the API may add fields (a page URL); the function's fields are all there
    assert [{k: item[k] for k in want} for item, want in zip(served, expected)] == expected
    assert client.get("/api/codes/icd10cm/Q99.99/similar").status_code == 404
    status = cli.main(["--index", str(fixture_settings.index_dir), "--encoder", "stub",
                       "similar", "icd10cm", "S72.001A", "--limit", "5", "--json"])
    assert status == 0
    assert json.loads(capsys.readouterr().out)["similar"] == expected


def test_index_without_groupings_still_answers_from_vectors_and_hierarchy(engine, tmp_path):
    data = similar_data(engine.store, groupings=tmp_path / "absent.sqlite")
    try:
        assert data.groupings is None and not len(data.tables.schemes["ccs"].names)
        found = similar_codes(engine, "icd10cm", "I21.01", 5)
        assert found and not any("CCS" in r for s in found for r in s.reasons)
        assert crosswalks(engine, "icd10cm", "I21.01") == []
    finally:
        similar_data(engine.store, groupings=engine.store.directory / gp.FILE)


def test_user_supplied_system_uses_its_own_vectors_and_hierarchy(tmp_path):
    settings = Settings.from_env(index_dir=tmp_path / "index", cache_dir=tmp_path / "cache", encoder="stub")
    build_index(settings, BuildRequest(systems=(), custom={"cpt": FIXTURES / "custom-codes.csv"}),
                log=lambda _m: None)
    engine = SearchEngine.open(settings)
    found = similar_codes(engine, "cpt", "ZZ101", 5)
    assert [s.code for s in found] == ["ZZ102"]
    assert found[0].reasons[0] == "same parent code (ZZ100)"
    assert not any("CCS" in r or "GEM" in r for r in found[0].reasons)
    assert crosswalks(engine, "cpt", "ZZ101") == []
    data = similar_data(engine.store)
    assert np.array_equal(data.tables.head, np.arange(len(data.tables.head)))


def test_every_fixture_code_of_every_kind_gets_an_answer(engine):
    store = engine.store
    for row in store.all_rows():
        system, code, kind, billable = row.system, row.code, row.kind, row.billable
        found = similar_codes(engine, system, code, 5)
        assert all(s.code != code and s.reasons for s in found), (system, code, kind)
        if billable:
            assert all(s.billable for s in found), (system, code)
