"""FHIR R4 terminology operations: responses validate against the R4 resource models and carry the index's facts."""
from __future__ import annotations

import pytest

models = pytest.importorskip("fhir.resources.R4B", reason="fhir.resources is not installed (pip install fhir.resources)")
from fhir.resources.R4B.bundle import Bundle  # noqa: E402
from fhir.resources.R4B.capabilitystatement import CapabilityStatement  # noqa: E402
from fhir.resources.R4B.codesystem import CodeSystem  # noqa: E402
from fhir.resources.R4B.operationoutcome import OperationOutcome  # noqa: E402
from fhir.resources.R4B.parameters import Parameters  # noqa: E402
from fhir.resources.R4B.terminologycapabilities import TerminologyCapabilities  # noqa: E402
from fhir.resources.R4B.valueset import ValueSet  # noqa: E402

CM = "http://hl7.org/fhir/sid/icd-10-cm"
PCS = "http://www.cms.gov/Medicare/Coding/ICD10"
ICD9 = "http://hl7.org/fhir/sid/icd-9-cm"
ICD9_PROCEDURES = "urn:oid:2.16.840.1.113883.6.104"
DRG = "https://www.cms.gov/Medicare/Medicare-Fee-for-Service-Payment/AcuteInpatientPPS/MS-DRG-Classifications-and-Software"
MODELS = {m.__name__: m for m in (Bundle, CapabilityStatement, CodeSystem, OperationOutcome, Parameters,
                                  TerminologyCapabilities, ValueSet)}


def resource(response, status: int = 200, kind: str | None = None) -> dict:
    """The body, checked for status, media type, and validity as the R4 resource it says it is."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/fhir+json")
    body = response.json()
    if kind:
        assert body["resourceType"] == kind
    MODELS[body["resourceType"]].model_validate(body)
    return body


def outcome(response, status: int) -> str:
    body = resource(response, status, "OperationOutcome")
    issue = body["issue"][0]
    assert issue["severity"] == "error" and issue["code"] and issue["diagnostics"]
    return issue["diagnostics"]


def values(params: dict, name: str) -> list:
    found = []
    for p in params["parameter"]:
        if p["name"] == name:
            found.append(p.get("part") or next(v for k, v in p.items() if k.startswith("value")))
    return found


def properties(params: dict) -> dict[str, list]:
    out: dict[str, list] = {}
    for parts in values(params, "property"):
        named = {p["name"]: p for p in parts}
        value = next(v for k, v in named["value"].items() if k.startswith("value"))
        out.setdefault(named["code"]["valueCode"], []).append(value)
    return out


# -- metadata ----------------------------------------------------------------------------------------
def test_capability_statement_declares_the_terminology_operations(client):
    body = resource(client.get("/fhir/metadata"), kind="CapabilityStatement")
    assert body["fhirVersion"] == "4.0.1" and body["kind"] == "instance"
    ops = {r["type"]: {o["name"] for o in r.get("operation", [])} for r in body["rest"][0]["resource"]}
    assert ops["CodeSystem"] >= {"lookup", "validate-code"} and "expand" in ops["ValueSet"]


def test_terminology_capabilities_lists_each_code_system_and_version(client, engine):
    body = resource(client.get("/fhir/metadata", params={"mode": "terminology"}), kind="TerminologyCapabilities")
    versions = {cs["uri"]: cs["version"][0]["code"] for cs in body["codeSystem"]}
    assert versions == {CM: "FY2026", PCS: "FY2026", ICD9: "FY2015", ICD9_PROCEDURES: "FY2015", DRG: "FY2026"}
    assert versions[CM] == engine.store.systems["icd10cm"]["version"]
    history = {cs["uri"]: [v["code"] for v in cs["version"][1:]] for cs in body["codeSystem"]}
    assert history[CM] == history[PCS] == ["FY2024"] and history[DRG] == []
    assert body["expansion"]["paging"] is True


def test_metadata_rejects_an_unknown_mode(client):
    assert "mode" in outcome(client.get("/fhir/metadata", params={"mode": "everything"}), 400)


# -- $lookup -----------------------------------------------------------------------------------------
def test_lookup_icd10cm_gives_display_designations_and_properties(client, engine):
    body = resource(client.get("/fhir/CodeSystem/$lookup", params={"system": CM, "code": "K92.2"}), kind="Parameters")
    record = engine.store.record("icd10cm", "K92.2")
    assert values(body, "display") == [record.title] and values(body, "name") == ["ICD-10-CM"]
    assert values(body, "version") == [record.version]
    designations = [{p["name"]: p for p in parts}["value"]["valueString"] for parts in values(body, "designation")]
    assert "Gastric hemorrhage NOS" in designations
    props = properties(body)
    assert props["parent"] == ["K92"] and props["billable"] == [True] and "child" not in props


def test_lookup_icd10pcs_and_children_of_a_category(client, engine):
    body = resource(client.get("/fhir/CodeSystem/$lookup", params={"system": PCS, "code": "0FT44ZZ"}))
    assert values(body, "display") == ["Resection of Gallbladder, Percutaneous Endoscopic Approach"]
    assert properties(body)["parent"] == ["0FT"]
    category = properties(resource(client.get("/fhir/CodeSystem/$lookup", params={"system": CM, "code": "K92"})))
    assert category["child"] == [row.code for row in engine.store.children("icd10cm", "K92")]
    assert category["billable"] == [False]


def test_lookup_returns_only_the_properties_asked_for(client):
    body = resource(client.get("/fhir/CodeSystem/$lookup",
                               params=[("system", CM), ("code", "K92"), ("property", "parent")]))
    assert set(properties(body)) == {"parent"}


def test_lookup_by_post_with_a_parameters_body(client):
    request = {"resourceType": "Parameters", "parameter": [
        {"name": "coding", "valueCoding": {"system": CM, "code": "I21.4"}}]}
    body = resource(client.post("/fhir/CodeSystem/$lookup", json=request))
    assert values(body, "display") == ["Non-ST elevation (NSTEMI) myocardial infarction"]


@pytest.mark.parametrize("params, status, words", [
    ({"system": CM}, 400, "code"),
    ({"code": "K92.2"}, 400, "system"),
    ({"system": "http://snomed.info/sct", "code": "22298006"}, 404, "not known"),
    ({"system": CM, "code": "Q99.999"}, 404, "not in"),
    ({"system": CM, "code": "k922"}, 404, "K92.2"),
    ({"system": CM, "code": "K92.2", "version": "FY1999"}, 404, "FY1999"),
    ({"system": CM, "code": "K92\x002"}, 400, "control"),
    ({"system": CM, "code": "K" * 5000}, 400, "longer"),
    ({"system": CM, "code": "K92.2", "_format": "xml"}, 406, "JSON"),
])
def test_lookup_errors_are_operation_outcomes(client, params, status, words):
    assert words in outcome(client.get("/fhir/CodeSystem/$lookup", params=params), status)


def test_a_canonical_reference_may_carry_the_version(client, engine):
    version = engine.store.systems["icd10cm"]["version"]
    body = resource(client.get("/fhir/CodeSystem/$lookup", params={"system": f"{CM}|{version}", "code": "K92.2"}))
    assert values(body, "version") == [version]
    assert "FY1999" in outcome(client.get("/fhir/CodeSystem/$lookup", params={"system": f"{CM}|FY1999",
                                                                                "code": "K92.2"}), 404)


# -- $expand -----------------------------------------------------------------------------------------
def test_expand_filters_the_implicit_value_set_by_text(client, engine):
    body = resource(client.get("/fhir/ValueSet/$expand", params={"url": CM + "?fhir_vs", "filter": "gastrointestinal hemorrhage",
                                                                 "count": 5}), kind="ValueSet")
    expansion = body["expansion"]
    codes = [c["code"] for c in expansion["contains"]]
    assert "K92.2" in codes and len(codes) <= 5 <= expansion["total"]
    assert {c["system"] for c in expansion["contains"]} == {CM}
    expected = [h.code for h in engine.search("gastrointestinal hemorrhage", "icd10cm", limit=5).hits]
    assert codes == expected


def test_expand_pages_with_offset_and_accepts_the_plain_system_uri(client):
    first = resource(client.get("/fhir/ValueSet/$expand", params={"url": PCS, "filter": "gallbladder", "count": 3}))
    second = resource(client.get("/fhir/ValueSet/$expand", params={"url": PCS, "filter": "gallbladder", "count": 3,
                                                                   "offset": 3}))
    a = [c["code"] for c in first["expansion"]["contains"]]
    b = [c["code"] for c in second["expansion"]["contains"]]
    assert len(a) == 3 and b and not set(a) & set(b) and second["expansion"]["offset"] == 3


def test_expand_without_a_filter_lists_the_whole_system_in_order(client, engine):
    body = resource(client.get("/fhir/ValueSet/$expand", params={"url": CM + "?fhir_vs", "count": 4, "offset": 2}))
    assert body["expansion"]["total"] == engine.store.systems["icd10cm"]["counts"]["codes"]
    listed = [c["code"] for c in body["expansion"]["contains"]]
    in_order = [r.code for r in engine.store.all_rows() if r.system == "icd10cm"]
    assert listed == in_order[2:6]
    for entry in resource(client.get("/fhir/ValueSet/$expand", params={"url": CM, "count": 12}))["expansion"]["contains"]:
        grouping = engine.store.record("icd10cm", entry["code"]).kind in ("chapter", "block")
        assert entry.get("abstract", False) is grouping, entry  # chapters and blocks are not codes to choose


def test_expand_with_count_zero_gives_only_the_total(client):
    body = resource(client.get("/fhir/ValueSet/$expand", params={"url": CM, "filter": "fracture", "count": 0}))
    assert body["expansion"]["total"] > 0 and "contains" not in body["expansion"]


@pytest.mark.parametrize("params, status", [
    ({}, 400),
    ({"url": "http://example.org/fhir/ValueSet/mine"}, 404),
    ({"url": CM + "?fhir_vs=refset/K92"}, 400), ({"url": CM + "?fhir_vs=isa/Q99.9X"}, 404),
    ({"url": CM, "count": "-1"}, 400),
    ({"url": CM, "count": "ten"}, 400),
    ({"url": CM, "count": "100000"}, 400),
    ({"url": CM, "offset": "-3"}, 400),
    ({"url": CM, "offset": "9" * 30}, 400),
    ({"url": CM, "filter": "heart", "offset": "5000"}, 400),
    ({"url": CM, "count": "1.5"}, 400),
    ({"url": CM, "filter": "x" * 900}, 400),
    ({"url": CM, "filter": "\x00\x00"}, 400),
])
def test_expand_errors_are_operation_outcomes(client, params, status):
    outcome(client.get("/fhir/ValueSet/$expand", params=params), status)


# -- $validate-code ----------------------------------------------------------------------------------
def test_validate_code_accepts_a_code_and_its_display(client):
    body = resource(client.get("/fhir/CodeSystem/$validate-code",
                               params={"system": CM, "code": "K92.2", "display": "gastrointestinal hemorrhage, unspecified"}))
    assert values(body, "result") == [True]
    assert values(body, "display") == ["Gastrointestinal hemorrhage, unspecified"]
    synonym = resource(client.get("/fhir/CodeSystem/$validate-code",
                                  params={"url": CM, "code": "K92.2", "display": "Gastric hemorrhage NOS"}))
    assert values(synonym, "result") == [True]


@pytest.mark.parametrize("code, display, words", [
    ("Q99.999", None, "not in"),
    ("k922", None, "did you mean 'K92.2'"),
    ("K92.2", "Broken leg", "official display"),
])
def test_validate_code_says_false_with_a_message(client, code, display, words):
    params = {"system": CM, "code": code} | ({"display": display} if display else {})
    body = resource(client.get("/fhir/CodeSystem/$validate-code", params=params))
    assert values(body, "result") == [False]
    assert words in values(body, "message")[0]


def test_value_set_validate_code(client):
    inside = resource(client.get("/fhir/ValueSet/$validate-code", params={"url": PCS + "?fhir_vs", "code": "0FT44ZZ"}))
    assert values(inside, "result") == [True]
    other = resource(client.get("/fhir/ValueSet/$validate-code", params={"url": PCS, "system": CM, "code": "0FT44ZZ"}))
    assert values(other, "result") == [False]


def test_validate_code_errors(client):
    outcome(client.get("/fhir/CodeSystem/$validate-code", params={"code": "K92.2"}), 400)
    outcome(client.get("/fhir/CodeSystem/$validate-code", params={"system": "urn:x", "code": "K92.2"}), 404)


# -- CodeSystem resources ----------------------------------------------------------------------------
def test_code_system_read_and_search(client, engine):
    body = resource(client.get("/fhir/CodeSystem/icd10pcs"), kind="CodeSystem")
    assert body["url"] == PCS and body["content"] == "not-present"
    assert body["count"] == engine.store.systems["icd10pcs"]["counts"]["codes"]
    bundle = resource(client.get("/fhir/CodeSystem"), kind="Bundle")
    assert {e["resource"]["url"] for e in bundle["entry"]} == {CM, PCS, ICD9, ICD9_PROCEDURES, DRG}
    assert bundle["total"] == 5
    only = resource(client.get("/fhir/CodeSystem", params={"url": CM}))
    assert [e["resource"]["id"] for e in only["entry"]] == ["icd10cm"]
    outcome(client.get("/fhir/CodeSystem/snomed"), 404)


def test_unknown_fhir_paths_and_methods_are_operation_outcomes(client):
    outcome(client.get("/fhir/Patient/1"), 404)
    deleted = client.delete("/fhir/metadata")
    outcome(deleted, 405)
    assert deleted.headers["allow"] == "GET"
