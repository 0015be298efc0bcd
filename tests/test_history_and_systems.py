"""Code history (FY2024 vs the loaded release), ICD-9-CM and MS-DRG as systems of their own, and the search scope."""
from __future__ import annotations

import re

import pytest

from embeddings.codesets import history, icd9, load_codeset, msdrg
from embeddings.codesets.base import SourceError
from embeddings.index.build import BuildRequest, build_index
from embeddings.records import Code
from embeddings.settings import Settings
from service.search.engine import SearchEngine
from tests.conftest import FIXTURES as FIX

CM = "http://hl7.org/fhir/sid/icd-10-cm"


# -- loaders ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def icd9_parts():
    return icd9.load_dx(), icd9.load_sg()


def test_icd9_parts_hold_every_cms_v32_code_under_chapters_and_headings(icd9_parts):
    dx, sg = icd9_parts
    assert dx.info.counts["billable"] == 14_567 and sg.info.counts["billable"] == 3_882
    for part in (dx, sg):
        by_code = {c.code: c for c in part.codes}
        assert len({c.key for c in part.codes}) == len(part.codes)  # no key collides within a part
        for c in part.codes:
            assert all(p in by_code for p in c.parents), c
            assert c.kind == "chapter" or by_code[c.parents[0]].kind == "chapter"
        assert not part.info.default_search and part.info.status.startswith("retired")
    dx_codes = {c.code: c for c in dx.codes}
    assert dx_codes["410.11"].parents == ("390-459", "410", "410.1") and dx_codes["410.11"].short
    assert dx_codes["410"].title.startswith("Acute myocardial infarction (410.00")
    assert dx_codes["E800.0"].parents[0] == "E000-E999" and dx_codes["V01.0"].parents[0] == "V01-V91"
    sg_codes = {c.code: c for c in sg.codes}
    # 00.10 (procedure) and 001.0 (cholera) share the key 0010: that is why the parts are two systems
    assert sg_codes["00.10"].key == dx_codes["001.0"].key
    assert sg_codes["81.54"].title == "Total knee replacement" and sg_codes["81.54"].parents[0] == "76-84"


def test_derived_headings_keep_the_words_most_codes_share():
    assert icd9.common_phrase(["Acute myocardial infarction of anterolateral wall, initial",
                               "Acute myocardial infarction of other inferior wall", "True posterior wall infarction"]
                              ) == "Acute myocardial infarction"
    assert icd9.common_phrase(["Cholera due to vibrio", "Typhoid fever"]) == ""


def test_icd9_files_that_are_not_description_files_are_refused(tmp_path):
    (tmp_path / "CMS32_DESC_LONG_DX.txt").write_text("4101\n")
    with pytest.raises(SourceError, match="CODE title"):
        icd9.load_dx(tmp_path)


def test_msdrg_groups_carry_mdc_weight_and_lengths_of_stay():
    drgs = msdrg.load()
    by_code = {c.code: c for c in drgs.codes}
    assert drgs.info.counts["billable"] == sum(c.kind == "code" for c in drgs.codes) > 700
    assert by_code["470"].parents == ("MDC08",) and by_code["MDC08"].kind == "mdc"
    assert msdrg.weight(by_code["469"]) > msdrg.weight(by_code["470"]) > 1.0
    assert any("length of stay" in n for n in by_code["470"].notes_of(msdrg.NOTE_KIND))
    assert by_code["001"].parents == ("MDCPRE",) and by_code["999"].parents == ("MDC-NONE",)


def test_a_table_5_file_without_a_fiscal_year_is_refused(tmp_path):
    bad = tmp_path / "weights.txt"
    bad.write_text("MS-DRG\tTitle\n470\tNo\tNo\t08\tSURG\tJOINT\t1.9\t1.9\t1.9\t2.2\n")
    with pytest.raises(SourceError, match="fiscal year"):
        msdrg.load(bad)


# -- history ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cm_history():
    return history.with_history(load_codeset("icd10cm"), history.earlier_codes("icd10cm"))


def test_every_fy2024_code_is_current_or_kept_as_inactive_with_successors(cm_history):
    earlier = history.earlier_codes("icd10cm")
    assert len(earlier) == 74_044
    by_key = {c.key: c for c in cm_history.codes}
    assert set(earlier) <= set(by_key)
    gone = [c for c in cm_history.codes if c.inactive]
    assert gone and cm_history.info.counts["inactive"] == len(gone)
    assert cm_history.info.years == ("FY2024", "FY2026")
    for c in gone:
        assert c.years == ("FY2024",) and not c.billable and c.successors
        assert all(by_key[Code(c.system, s, "", True, "code").key].billable for s in c.successors)
    deleted = by_key["S301XXA"]
    assert deleted.inactive and deleted.successors[0] == "S30.11XA" and deleted.parent == "S30.1"


def test_current_codes_know_their_years_and_expanded_ones_their_new_codes(cm_history):
    by_key = {c.key: c for c in cm_history.codes}
    assert by_key["K922"].years == ("FY2024", "FY2026")
    new = [c for c in cm_history.codes if c.billable and c.years == ("FY2026",)]
    assert len(new) == cm_history.info.counts["added"] > 100
    expanded = by_key["B880"]  # billable in FY2024, a subcategory with codes of its own now
    assert expanded.years == ("FY2024",) and not expanded.billable
    assert set(expanded.successors) == {c.code for c in cm_history.codes if c.parent == "B88.0"}


# -- the fixture index: scope, pages, API, FHIR ---------------------------------------------------------
def test_a_search_of_all_systems_never_returns_icd9_or_drg_text(engine):
    assert engine.store.scope == ("icd10cm", "icd10pcs")
    found = engine.search("acute myocardial infarction", limit=50)
    assert found.hits and {h.system for h in found.hits} <= {"icd10cm", "icd10pcs"}
    named = engine.search("acute myocardial infarction", system="icd9cm", limit=5)
    assert named.hits and all(h.system == "icd9cm" and h.code.startswith("410") for h in named.hits)
    drg = engine.search("major joint replacement", system="msdrg", limit=2)
    assert {h.code for h in drg.hits} == {"469", "470"}


def test_an_exact_icd9_code_is_found_without_naming_the_system(engine):
    assert [(h.system, h.code) for h in engine.search("410.11").hits][:1] == [("icd9cm", "410.11")]


def test_words_only_icd9_uses_stay_out_of_the_spelling_vocabulary(engine):
    words = re.compile(r"[a-z][a-z0-9']{2,}")
    store = engine.store
    legacy = {w for r in store.all_rows() if r.system not in store.scope for w in words.findall(r.title.lower())}
    texts = store.lexical_texts([r.id for r in store.all_rows() if r.system in store.scope])
    current = {w for text in texts.values() for w in words.findall(text.lower())}
    only_legacy = legacy - current
    assert only_legacy and not only_legacy & set(engine.vocabulary)


def test_a_deleted_code_ranks_below_its_successor_and_is_labelled(engine, client):
    hits = engine.search("contusion of abdominal wall initial encounter", system="icd10cm", limit=20).hits
    codes = [h.code for h in hits]
    assert "S30.1XXA" in codes and "S30.11XA" in codes and codes.index("S30.11XA") < codes.index("S30.1XXA")
    page = client.get("/codes/icd10cm/S30.1XXA")
    assert page.status_code == 200 and "Inactive" in page.text and "/codes/icd10cm/S30.11XA" in page.text
    assert "Official ICD-10-CM FY2024 content" in page.text and "has been deleted since" in page.text
    record = client.get("/api/codes/icd10cm/S30.1XXA").json()
    assert [s["code"] for s in record["validity"]["successors"]][:1] == ["S30.11XA"]
    assert all(s["code"].endswith("A") for s in record["validity"]["successors"])  # the same encounter
    similar = client.get("/api/codes/icd10cm/S30.11XA/similar", params={"limit": 10}).json()["similar"]
    assert all(s["code"] != "S30.1XXA" for s in similar)


@pytest.mark.parametrize("code,year,valid,status", [
    ("S30.1XXA", "2024", True, "inactive"), ("S30.1XXA", None, False, "inactive"),
    ("S30.11XA", "FY2024", False, "new"), ("S30.11XA", "2025-10-01", True, "new"),
    ("K92.2", "2024-09-30", True, "active"), ("B88.0", "FY2026", False, "expanded"), ("B88.0", "2024", True, "expanded")])
def test_validate_answers_for_a_fiscal_year(client, code, year, valid, status):
    params = {"system": "icd10cm", "code": code} | ({"year": year} if year else {})
    body = client.get("/api/validate", params=params).json()
    assert (body["valid_for_claims"], body["status"]) == (valid, status), body


@pytest.mark.parametrize("year,fragment", [("2019", "years known: FY2024, FY2026"), ("soon", "fiscal year")])
def test_validate_refuses_a_year_it_has_no_list_for(client, year, fragment):
    answer = client.get("/api/validate", params={"system": "icd10cm", "code": "K92.2", "year": year})
    assert answer.status_code == 400 and fragment in answer.json()["message"]


@pytest.mark.parametrize("system,code", [("msdrg", "470"), ("icd9cm", "410.11")])
def test_validate_refuses_a_year_outside_a_systems_lists(client, system, code):
    assert client.get("/api/validate", params={"system": system, "code": code}).status_code == 200
    answer = client.get("/api/validate", params={"system": system, "code": code, "year": "2024"})
    assert answer.status_code == 400 and "years known" in answer.json()["message"], answer.text


def test_validate_refuses_a_year_for_a_user_file_without_history(tmp_path):
    from fastapi.testclient import TestClient

    from service.web.app import create_app
    settings = Settings.from_env(index_dir=tmp_path / "index", cache_dir=tmp_path / "cache", encoder="stub")
    build_index(settings, BuildRequest(systems=(), custom={"cpt": FIX / "custom-codes.csv"}), log=lambda _m: None)
    client = TestClient(create_app(settings, SearchEngine.open(settings)), raise_server_exceptions=False)
    plain = client.get("/api/validate", params={"system": "cpt", "code": "ZZ101"})
    assert plain.status_code == 200 and "year" not in plain.json(), plain.text
    answer = client.get("/api/validate", params={"system": "cpt", "code": "ZZ101", "year": "2024"})
    assert answer.status_code == 400 and "no code history" in answer.json()["message"], answer.text


def test_icd9_and_drg_pages_show_their_standing_crosswalks_and_figures(client):
    page = client.get("/api/codes/icd9cm/410.11").json()
    assert page["validity"]["status"] == "retired"
    assert {x["code"] for x in page["crosswalks"]} >= {"I21.09"} and all(x["system"] == "icd10cm"
                                                                          for x in page["crosswalks"])
    assert client.get("/codes/icd9cm/410.11").status_code == 200
    heading = client.get("/api/codes/icd9cm/410").json()
    assert heading["plain_description"]["label"].startswith("About this heading — written by medcodes")
    drg = client.get("/codes/msdrg/470")
    assert drg.status_code == 200 and "Relative weight (FY2026)" in drg.text


def _param(body: dict, name: str):
    for p in body.get("parameter", []):
        if p["name"] == name:
            return next(v for k, v in p.items() if k.startswith("value"))
    return None


def test_fhir_validate_code_takes_a_version_or_a_date_of_service(client):
    def ask(**extra):
        return client.get("/fhir/CodeSystem/$validate-code", params={"system": CM, "code": "S30.1XXA"} | extra)
    now = ask().json()
    assert _param(now, "result") is False and "S30.11XA" in _param(now, "message")
    assert _param(ask(version="FY2024").json(), "result") is True
    assert _param(ask(date="2024-02-29").json(), "result") is True
    assert ask(date="2012-01-01").status_code == 400 and ask(version="FY2019").status_code == 404
    lookup = client.get("/fhir/CodeSystem/$lookup", params={"system": CM, "code": "S30.1XXA",
                                                            "property": "inactive"}).json()
    assert [p["part"][1]["valueBoolean"] for p in lookup["parameter"] if p["name"] == "property"] == [True]
    translate = client.get("/fhir/ConceptMap/$translate", params={"system": "http://hl7.org/fhir/sid/icd-9-cm",
                                                                  "code": "47.01"}).json()
    assert _param(translate, "result") is True
