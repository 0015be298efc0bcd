"""The REST API on the fixture index: every endpoint, paging and filters, and bad input answered with a 4xx message."""
from __future__ import annotations

import re

import pytest

LONG = "x" * 5000


def error_of(response, status: int) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) >= {"error", "message"} and body["message"], body
    assert "Traceback" not in response.text
    return body["message"]


# -- health and systems ------------------------------------------------------------------------------
def test_health_reports_the_loaded_index(client, engine):
    body = client.get("/health").json()
    assert body["status"] == "ok"
    assert body["codes"] == engine.store.manifest["counts"]["codes"]
    assert body["model"] == engine.store.manifest["model"]["name"]


def test_systems_lists_versions_counts_and_chapters(client, engine):
    systems = {s["name"]: s for s in client.get("/api/systems").json()["systems"]}
    assert set(systems) == set(engine.store.systems)
    cm = systems["icd10cm"]
    assert cm["version"] == engine.store.systems["icd10cm"]["version"]
    assert cm["counts"]["codes"] == engine.store.manifest["counts"]["systems"]["icd10cm"]["codes"]
    assert cm["fhir_uri"] == "http://hl7.org/fhir/sid/icd-10-cm"
    chapters = {c["code"]: c["title"] for c in cm["chapters"]}
    assert chapters["9"] == "Diseases of the circulatory system"
    assert "0" in {c["code"] for c in systems["icd10pcs"]["chapters"]}


# -- search ------------------------------------------------------------------------------------------
def test_search_by_code_puts_the_exact_code_first_with_its_reason(client):
    body = client.get("/api/search", params={"q": "k922"}).json()
    first = body["results"][0]
    assert (first["code"], first["system"]) == ("K92.2", "icd10cm")
    assert first["reasons"][0] == "code"
    assert first["url"] == "/codes/icd10cm/K92.2"
    assert body["total"] >= len(body["results"]) > 0


def test_search_pages_through_the_same_ranking(client, engine):
    full = engine.search("gallbladder", limit=12)
    first = client.get("/api/search", params={"q": "gallbladder", "limit": 6}).json()
    second = client.get("/api/search", params={"q": "gallbladder", "limit": 6, "offset": 6}).json()
    assert [h["code"] for h in first["results"] + second["results"]] == [h.code for h in full.hits]
    assert first["total"] == second["total"] == full.total
    assert first["next_offset"] == 6 and first["limit"] == 6 and second["offset"] == 6
    last = client.get("/api/search", params={"q": "gallbladder", "limit": 5, "offset": full.total - 2}).json()
    assert last["next_offset"] is None and len(last["results"]) == 2


def test_search_filters_by_system_billable_and_chapter(client, engine):
    pcs = client.get("/api/search", params={"q": "gallbladder", "system": "icd10pcs", "limit": 30}).json()
    assert pcs["results"] and {h["system"] for h in pcs["results"]} == {"icd10pcs"}
    billable = client.get("/api/search", params={"q": "fracture femur", "billable": "true", "limit": 30}).json()
    assert billable["results"] and all(h["billable"] for h in billable["results"])
    for chapter in ("9", "icd10cm:9"):
        body = client.get("/api/search", params={"q": "infarction", "chapter": chapter, "limit": 30}).json()
        assert body["results"] and {h["chapter"] for h in body["results"]} == {"9"}
        assert {engine.store.record(h["system"], h["code"]).chapter for h in body["results"]} == {"9"}


def test_search_explains_lay_terms_when_the_engine_expands_them(client):
    body = client.get("/api/search", params={"q": "heart attack", "system": "icd10cm"}).json()
    assert isinstance(body["expansions"], list) and "did_you_mean" in body
    assert any(h["code"].startswith("I21") for h in body["results"][:5])


@pytest.mark.parametrize("params, status", [
    ({"q": ""}, 400),
    ({"q": "   "}, 400),
    ({"q": LONG}, 400),
    ({"q": "\x00\x01\x02\x1b"}, 400),
    ({"q": "heart", "system": "snomed"}, 400),
    ({"q": "heart", "system": "icd10cm\x00"}, 400),
    ({"q": "heart", "limit": -1}, 400),
    ({"q": "heart", "limit": 0}, 400),
    ({"q": "heart", "limit": 100000}, 400),
    ({"q": "heart", "offset": -5}, 400),
    ({"q": "heart", "mode": "fuzzy"}, 400),
    ({"q": "heart", "chapter": "icd10pcs:0", "system": "icd10cm"}, 400),
    ({"q": "heart", "chapter": "99"}, 400),
    ({"q": "heart", "chapter": "icd10cm:"}, 400),
    ({"q": "heart", "chapter": ":9"}, 400),
    ({"q": "heart", "offset": "9" * 40}, 400),
    ({"q": "heart", "limit": "-" + "9" * 40}, 400),
    ({"q": "heart", "offset": "1e3"}, 422),
    ({}, 422),
    ({"q": "heart", "limit": "ten"}, 422),
    ({"q": "heart", "billable": "maybe"}, 422),
])
def test_search_rejects_bad_input_with_a_message(client, params, status):
    error_of(client.get("/api/search", params=params), status)


def test_search_messages_say_what_was_wrong(client):
    assert "limit" in error_of(client.get("/api/search", params={"q": "a b", "limit": -1}), 400)
    assert "snomed" in error_of(client.get("/api/search", params={"q": "heart", "system": "snomed"}), 400)
    assert "5000" in error_of(client.get("/api/search", params={"q": LONG}), 400)
    assert "empty" in error_of(client.get("/api/search", params={"q": "\x00\x07"}), 400)


@pytest.mark.parametrize("text", ["!!!", "\U0001f494", "-- ?", "\u2014"])
def test_a_query_without_letters_or_digits_is_a_400_not_a_list_of_nearest_noise(client, text):
    for path in ("/api/search", "/api/suggest"):
        assert "no letters (a-z) or digits" in error_of(client.get(path, params={"q": text}), 400)
    for mode in ("dense", "lexical"):
        error_of(client.get("/api/search", params={"q": text, "mode": mode}), 400)
    assert client.get("/api/search", params={"q": "k92.2!"}).status_code == 200  # a word or code with them is fine


@pytest.mark.parametrize("path", ["/api/search?q=%ff", "/api/search?q=heart&system=%c3%28", "/api/suggest?q=ab%80",
                                  "/api/codes/icd10cm/K92%ff", "/api/codes/icd10cm/K92.2/similar?limit=%fe"])
def test_bytes_that_are_not_utf8_are_a_400(client, path):
    assert "not UTF-8" in error_of(client.get(path), 400)


def test_control_characters_inside_a_query_are_treated_as_spaces(client):
    body = client.get("/api/search", params={"q": "gall\x00bladder\tremoval"}).json()
    assert body["query"] == "gall bladder removal"


# -- suggest -----------------------------------------------------------------------------------------
def test_suggest_completes_a_code_prefix(client):
    body = client.get("/api/suggest", params={"q": "K92", "limit": 5}).json()
    codes = [h["code"] for h in body["suggestions"]]
    assert codes and codes[0] == "K92" and all(c.startswith("K92") for c in codes) and len(codes) <= 5


def test_suggest_completes_a_partial_word(client):
    body = client.get("/api/suggest", params={"q": "myocard", "system": "icd10cm"}).json()
    assert body["suggestions"] and all("myocard" in h["title"].lower() for h in body["suggestions"])


@pytest.mark.parametrize("params, status", [
    ({"q": ""}, 400), ({"q": LONG}, 400), ({"q": "\x00\x1f"}, 400), ({"q": "K92", "system": "cpt"}, 400),
    ({"q": "K92", "limit": -3}, 400), ({}, 422), ({"q": "K92", "limit": "many"}, 422),
])
def test_suggest_rejects_bad_input_with_a_message(client, params, status):
    error_of(client.get("/api/suggest", params=params), status)


# -- code records ------------------------------------------------------------------------------------
def test_code_record_has_official_content_and_hierarchy(client, engine):
    body = client.get("/api/codes/icd10cm/K92.2").json()
    record = engine.store.record("icd10cm", "K92.2")
    assert (body["code"], body["title"], body["billable"]) == ("K92.2", record.title, True)
    assert [b["code"] for b in body["breadcrumbs"]] == list(record.parents) == ["11", "K90-K95", "K92"]
    assert body["breadcrumbs"][0]["label"] == "Chapter 11"
    groups = {g["kind"]: g["notes"] for g in body["note_groups"]}
    assert groups["inclusion"] == record.notes_of("inclusion") and "excludes1" in groups
    assert body["system_info"]["licence"] and body["system_info"]["version"] == record.version
    described = body["plain_description"]
    assert described["official"] is False and "assembled from the official ICD-10-CM" in described["label"]
    assert [s["name"] for s in described["sections"]] == ["Name", "Summary", "Instructional notes"]
    assert described["text"].startswith("K92.2 is a billable ICD-10-CM code")
    assert body["content"] is None  # no content pack in the fixture index


@pytest.mark.parametrize("name", ["ICD10CM", "ICD-10-CM", "Icd10Cm", "icd_10_cm"])
def test_a_system_name_is_read_without_case_or_dashes_everywhere_it_is_given(client, name):
    for path in (f"/api/codes/{name}/K92.2", f"/api/codes/{name}/K92.2/similar?limit=3",
                 f"/api/codes/{name}/K92/children", f"/api/validate?system={name}&code=K92.2"):
        body = client.get(path).json()
        assert body["system"] == "icd10cm", path
    hits = client.get("/api/search", params={"q": "gastrointestinal", "system": name}).json()["results"]
    assert hits and all(h["system"] == "icd10cm" for h in hits)
    assert all(h["system"] == "icd10cm" for h in client.get("/api/suggest", params={"q": "gastro", "system": name})
               .json()["suggestions"])
    page = client.get(f"/codes/{name}/K92.2")
    assert page.status_code == 200 and 'href="/codes/icd10cm/K92' in page.text
    assert "no code system named 'icd-9'" in error_of(client.get("/api/codes/icd-9/K92.2"), 404)


def test_a_search_for_a_cpt_or_hcpcs_shaped_code_that_is_not_loaded_says_how_to_load_it(client, engine):
    from service.search.codelist import missing_system_hint

    cpt = client.get("/api/search", params={"q": "99213"}).json()
    assert cpt["total"] == 0 and "CPT codes are not loaded" in cpt["hint"] and "--custom cpt=" in cpt["hint"]
    assert "HCPCS" in client.get("/api/search", params={"q": "J1100"}).json()["hint"]
    assert client.get("/api/search", params={"q": "heart"}).json()["hint"] is None
    assert "CPT codes are not loaded" in client.get("/", params={"q": "99213"}).text
    # with a CPT file loaded, a code it lacks is just not there
    assert missing_system_hint({"icd10cm", "cpt"}, engine.search("99213")) is None


def test_code_record_is_found_without_dots_or_capitals(client):
    assert client.get("/api/codes/icd10cm/k922").json()["code"] == "K92.2"


def test_pcs_record_has_axes_and_a_labelled_generated_description(client):
    body = client.get("/api/codes/icd10pcs/0FT44ZZ").json()
    assert [a["name"] for a in body["axes"]][:4] == ["Section", "Body System", "Root Operation", "Body Part"]
    assert len(body["axes"]) == 7
    described = body["plain_description"]
    assert described["official"] is False and "generated from the ICD-10-PCS definitions" in described["label"]
    assert "gallbladder" in described["text"].lower()


def test_seventh_character_table_is_in_the_record(client):
    body = client.get("/api/codes/icd10cm/S72.001").json()
    table = {row["character"]: row["meaning"] for row in body["seventh_table"]}
    assert table["A"] == "initial encounter for closed fracture" and "S" in table


def test_children_are_the_codes_one_level_down(client, engine):
    body = client.get("/api/codes/icd10cm/K92/children").json()
    expected = [row.code for row in engine.store.children("icd10cm", "K92")]
    assert [c["code"] for c in body["children"]] == expected and "K92.2" in expected
    assert all(c["url"] == f"/codes/icd10cm/{c['code']}" for c in body["children"])
    assert client.get("/api/codes/icd10cm/K92.2/children").json()["children"] == []


def test_similar_codes_have_reasons_and_exclude_the_code_itself(client):
    body = client.get("/api/codes/icd10cm/I21.01/similar", params={"limit": 8}).json()
    similar = body["similar"]
    assert 5 <= len(similar) <= 8
    assert "I21.01" not in {s["code"] for s in similar}
    assert all(s["reasons"] and s["url"].startswith("/codes/") for s in similar)


@pytest.mark.parametrize("path, status", [
    ("/api/codes/icd10cm/Q99.999", 404),
    ("/api/codes/snomed/K92.2", 404),
    ("/api/codes/icd10cm/Q99.999/children", 404),
    ("/api/codes/icd10cm/Q99.999/similar", 404),
    ("/api/codes/cpt/99213/similar", 404),
    ("/api/codes/icd10cm/K92%202", 400),
    ("/api/codes/icd10cm/%3Cscript%3E", 400),
    ("/api/codes/icd10cm/K92%00", 400),
    ("/api/codes/icd10cm/" + "K" * 200, 400),
    ("/api/codes/icd10cm/I21.01/similar?limit=-1", 400),
    ("/api/codes/icd10cm/I21.01/similar?limit=x", 422),
    ("/api/nothing-here", 404),
])
def test_code_endpoints_reject_bad_input_with_a_message(client, path, status):
    error_of(client.get(path), status)


def test_wrong_method_is_a_405_with_a_message(client):
    error_of(client.post("/api/search?q=heart"), 405)


# -- headers -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/api/search?q=heart", "/api/search?q=", "/health", "/fhir/metadata",
                                  "/openapi.json", "/api/nothing"])
def test_data_responses_carry_security_headers(client, path):
    headers = client.get(path).headers
    assert headers["x-content-type-options"] == "nosniff" and headers["x-frame-options"] == "DENY"
    assert headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
    assert headers["referrer-policy"] == "same-origin"


def test_any_origin_may_read_the_public_api_without_credentials(client):
    simple = client.get("/api/search", params={"q": "heart"}, headers={"Origin": "https://example.org"})
    assert simple.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in simple.headers
    preflight = client.options("/fhir/ValueSet/$expand", headers={
        "Origin": "https://example.org", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type"})
    assert preflight.status_code == 200 and "POST" in preflight.headers["access-control-allow-methods"]
    refused = client.options("/api/search", headers={"Origin": "https://example.org",
                                                     "Access-Control-Request-Method": "DELETE"})
    assert refused.status_code == 400


def test_405_says_which_methods_are_allowed(client):
    response = client.delete("/api/search?q=heart")
    assert response.status_code == 405 and response.headers["allow"] == "GET"


# -- documentation -----------------------------------------------------------------------------------
def test_openapi_documents_every_endpoint_and_its_errors(client):
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    for path in ("/api/search", "/api/suggest", "/api/codes/{system}/{code}", "/api/codes/{system}/{code}/children",
                 "/api/codes/{system}/{code}/similar", "/api/systems", "/health", "/fhir/metadata",
                 "/fhir/CodeSystem/$lookup", "/fhir/ValueSet/$expand", "/fhir/CodeSystem/$validate-code"):
        assert path in paths, path
    search = paths["/api/search"]["get"]
    assert {"400", "404", "422"} <= set(search["responses"])
    assert {p["name"] for p in search["parameters"]} >= {"q", "system", "billable", "chapter", "limit", "offset"}
    schemas = {p["name"]: p["schema"] for p in search["parameters"]}
    assert schemas["limit"]["maximum"] == 100 and schemas["q"]["maxLength"] == 500
    assert schemas["mode"]["enum"] == ["hybrid", "lexical", "dense"]
    # what this server loaded is written in when the schema is first asked for
    assert schemas["system"]["enum"][:2] == ["", "all"] and "icd10pcs" in schemas["system"]["enum"]
    record = paths["/api/codes/{system}/{code}"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert record == {"$ref": "#/components/schemas/CodeRecordOut"}
    lookup = paths["/fhir/CodeSystem/$lookup"]["post"]
    assert {"400", "404", "413", "415"} <= set(lookup["responses"])
    assert "application/fhir+json" in lookup["requestBody"]["content"]
    assert "/" not in paths and "/codes/{system}/{code}" not in paths


def test_docs_page_serves_swagger_ui(client):
    page = client.get("/docs")
    assert page.status_code == 200 and "/openapi.json" in page.text
    script = next(part.split('"')[0] for part in page.text.split('src="')[1:] if "swagger-ui" in part)
    assert client.get(script).status_code == 200 or script.startswith("https://")


# -- the real model ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def real_client(tmp_path_factory):
    """The API over a tiny index encoded with the default encoder: the packaged model on ONNX Runtime."""
    from fastapi.testclient import TestClient

    from embeddings.index.build import BuildRequest, build_index
    from embeddings.settings import Settings
    from service.web.app import create_app

    root = tmp_path_factory.mktemp("real-model-api")
    settings = Settings.from_env(index_dir=root / "index", cache_dir=root / "cache", encoder="onnx", model="")
    build_index(settings, BuildRequest(systems=("icd10cm",), prefixes=("I21", "I22", "K92")), log=lambda _m: None)
    return TestClient(create_app(settings), raise_server_exceptions=False)


@pytest.mark.model
def test_real_model_smoke_through_the_api_and_fhir(real_client):
    # the default encoder, named by its base model and a digest of its files
    assert re.fullmatch(r"all-MiniLM-L6-v2@[0-9a-f]{12}-onnx", real_client.get("/health").json()["model"])
    hits = real_client.get("/api/search", params={"q": "heart attack", "limit": 5}).json()["results"]
    assert any(h["code"].startswith("I21") for h in hits), hits
    expansion = real_client.get("/fhir/ValueSet/$expand", params={"url": "http://hl7.org/fhir/sid/icd-10-cm",
                                                                  "filter": "bleeding from the gut", "count": 5})
    assert expansion.status_code == 200
    assert any(c["code"].startswith("K92") for c in expansion.json()["expansion"]["contains"])
    assert len(real_client.get("/api/codes/icd10cm/I21.4/similar").json()["similar"]) >= 5


def test_a_query_of_common_words_only_finds_nothing_and_says_why(client, engine):
    found = client.get("/api/search", params={"q": "the and of"}).json()
    assert found["total"] == 0 and found["results"] == [] and "only common words" in found["hint"]
    assert "only common words" in client.get("/", params={"q": "of the"}).text
    # A common word beside a word that says something is searched as before.
    assert engine.search("fracture of the femur").total > 0
