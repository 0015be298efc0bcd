"""FHIR operations integrators use: $subsumes, implicit isa/billable value sets, $lookup properties and batch,
exercised through a real FHIR client library (fhirpy) against a running server, every answer validated as R4."""
from __future__ import annotations

import pytest

fhirpy = pytest.importorskip("fhirpy", reason="fhirpy is not installed (pip install fhirpy)")
from fhir.resources.R4B.bundle import Bundle  # noqa: E402
from fhir.resources.R4B.parameters import Parameters  # noqa: E402
from fhir.resources.R4B.valueset import ValueSet  # noqa: E402
from fhirpy.base.exceptions import OperationOutcome, ResourceNotFound  # noqa: E402
from serving import serve  # noqa: E402

from service.web.app import create_app  # noqa: E402

CM = "http://hl7.org/fhir/sid/icd-10-cm"
PCS = "http://www.cms.gov/Medicare/Coding/ICD10"
REFUSED = (OperationOutcome, ResourceNotFound)  # what fhirpy raises for a 4xx OperationOutcome (404 apart)


@pytest.fixture(scope="module")
def fhir(fixture_settings, engine):
    """A live server on loopback and a fhirpy client pointed at its /fhir base."""
    with serve(create_app(fixture_settings, engine)) as url:
        yield fhirpy.SyncFHIRClient(url + "/fhir", extra_headers={"Accept": "application/fhir+json"})


def _param(params: dict, name: str):
    found = [p for p in params.get("parameter", []) if p["name"] == name]
    return next(iter(v for k, v in found[0].items() if k.startswith("value")), None) if found else None


def _properties(params: dict) -> dict[str, list]:
    out: dict[str, list] = {}
    for p in params["parameter"]:
        if p["name"] == "property":
            parts = {q["name"]: next(v for k, v in q.items() if k.startswith("value")) for q in p["part"]}
            out.setdefault(parts["code"], []).append(parts["value"])
    return out


@pytest.mark.parametrize("system,a,b,expected", [
    (CM, "I21", "I21.4", "subsumes"), (CM, "I21.4", "I21", "subsumed-by"), (CM, "K92.2", "K92.2", "equivalent"),
    (CM, "K92.2", "I21.4", "not-subsumed"), (CM, "11", "K92.2", "subsumes"), (PCS, "0FT", "0FT44ZZ", "subsumes"),
    (PCS, "0FT44ZZ", "0FB44ZX", "not-subsumed")])
def test_subsumes_answers_from_the_hierarchy(fhir, system, a, b, expected):
    answer = fhir.execute("CodeSystem/$subsumes", method="get", params={"system": system, "codeA": a, "codeB": b})
    Parameters.model_validate(answer)
    assert _param(answer, "outcome") == expected


def test_subsumes_with_an_unknown_code_is_a_404_outcome(fhir):
    with pytest.raises(REFUSED) as info:
        fhir.execute("CodeSystem/$subsumes", method="get", params={"system": CM, "codeA": "I21", "codeB": "Q99.9X"})
    assert "codeB" in str(info.value)


def test_lookup_gives_parent_children_billable_inactive_chapter_and_designations(fhir):
    answer = fhir.execute("CodeSystem/$lookup", method="get", params={"system": CM, "code": "K92.2"})
    Parameters.model_validate(answer)
    props = _properties(answer)
    assert props["parent"] == ["K92"] and props["billable"] == [True] and props["inactive"] == [False]
    assert props["chapter"] == ["11"]
    category = _properties(fhir.execute("CodeSystem/$lookup", method="get", params={"system": CM, "code": "K92"}))
    assert "K92.2" in category["child"] and category["billable"] == [False]
    only = fhir.execute("CodeSystem/$lookup", method="post", data={"resourceType": "Parameters", "parameter": [
        {"name": "system", "valueUri": CM}, {"name": "code", "valueCode": "K92.2"},
        {"name": "property", "valueCode": "chapter"}]})
    assert set(_properties(only)) == {"chapter"}


def test_isa_and_billable_value_sets_expand_and_validate(fhir, engine):
    subtree = fhir.execute("ValueSet/$expand", method="get", params={"url": f"{CM}?fhir_vs=isa/K92", "count": 100})
    ValueSet.model_validate(subtree)
    codes = [c["code"] for c in subtree["expansion"]["contains"]]
    assert codes[0] == "K92" and set(codes) == {r.code for r in engine.store.all_rows()
                                                 if r.system == "icd10cm" and r.code.startswith("K92")}
    billable = fhir.execute("ValueSet/$expand", method="get",
                            params={"url": f"{CM}?fhir_vs=isa/K92;billable", "count": 100})
    assert billable["expansion"]["total"] == len(billable["expansion"]["contains"]) < len(codes)
    assert "K92" not in [c["code"] for c in billable["expansion"]["contains"]]
    filtered = fhir.execute("ValueSet/$expand", method="get",
                            params={"url": f"{CM}?fhir_vs=isa/K92", "filter": "hemorrhage"})
    assert filtered["expansion"]["contains"] and all(c["code"].startswith("K92")
                                                     for c in filtered["expansion"]["contains"])
    inside = fhir.execute("ValueSet/$validate-code", method="get",
                          params={"url": f"{CM}?fhir_vs=isa/K92;billable", "code": "K92.2"})
    outside = fhir.execute("ValueSet/$validate-code", method="get",
                           params={"url": f"{CM}?fhir_vs=isa/K92", "code": "I21.4"})
    category = fhir.execute("ValueSet/$validate-code", method="get",
                            params={"url": f"{CM}?fhir_vs=billable", "code": "K92"})
    assert _param(inside, "result") is True
    assert _param(outside, "result") is False and "under K92" in _param(outside, "message")
    assert _param(category, "result") is False and "billable" in _param(category, "message")
    with pytest.raises(REFUSED):
        fhir.execute("ValueSet/$expand", method="get", params={"url": f"{CM}?fhir_vs=refset/123"})


def test_a_batch_validates_a_claim_files_codes_in_one_call(fhir):
    codes = ["K92.2", "I21.4", "K922", "Z99.999", "0FT44ZZ"]
    entries = [{"request": {"method": "GET", "url": f"CodeSystem/$validate-code?system={CM}&code={c}"}}
               for c in codes[:4]]
    entries += [{"request": {"method": "GET", "url": f"CodeSystem/$lookup?system={PCS}&code=0FT44ZZ"}},
                {"request": {"method": "GET", "url": "Patient/1"}},
                {"request": {"method": "GET", "url": "CodeSystem/$lookup?system=urn:nope&code=1"}}]
    answer = fhir.execute("", method="post", data={"resourceType": "Bundle", "type": "batch", "entry": entries})
    Bundle.model_validate(answer)
    assert answer["type"] == "batch-response" and len(answer["entry"]) == len(entries)
    results = [_param(e["resource"], "result") for e in answer["entry"][:4]]
    assert results == [True, True, False, False]
    assert "did you mean 'K92.2'" in _param(answer["entry"][2]["resource"], "message")
    assert _param(answer["entry"][4]["resource"], "display").startswith("Resection of Gallbladder")
    assert [e["response"]["status"] for e in answer["entry"][5:]] == ["400 Bad Request", "404 Not Found"]
    assert answer["entry"][6]["resource"]["resourceType"] == "OperationOutcome"


def test_a_batch_that_is_not_a_batch_bundle_is_a_400(fhir):
    with pytest.raises(REFUSED):
        fhir.execute("", method="post", data={"resourceType": "Bundle", "type": "transaction", "entry": []})
    with pytest.raises(REFUSED):
        fhir.execute("", method="post", data={"resourceType": "Bundle", "type": "batch",
                                              "entry": [{}] * 1001})


def test_capabilities_list_the_new_operations(fhir):
    statement = fhir.execute("metadata", method="get")
    operations = {o["name"] for r in statement["rest"][0]["resource"] for o in r.get("operation", [])}
    assert {"lookup", "validate-code", "subsumes", "expand"} <= operations
    assert {"code": "batch"} in statement["rest"][0]["interaction"]
    terminology = fhir.execute("metadata", method="get", params={"mode": "terminology"})
    assert all(cs["subsumption"] for cs in terminology["codeSystem"])


def _matches(answer: dict) -> list[dict]:
    out = []
    for p in answer["parameter"]:
        if p["name"] == "match":
            parts = {q["name"]: next(v for k, v in q.items() if k.startswith("value")) for q in p["part"]}
            out.append(parts)
    return out


def test_translate_follows_the_gems_both_ways_with_equivalence_from_their_flags(fhir, engine):
    icd9 = "http://hl7.org/fhir/sid/icd-9-cm"
    rows = [g for g in engine.store.gems("icd10cm", "K922") if g.direction == "10to9"]
    assert rows, "the fixture index holds GEM rows for K92.2"
    forward = fhir.execute("ConceptMap/$translate", method="get",
                           params={"system": CM, "code": "K92.2", "target": icd9})
    Parameters.model_validate(forward)
    found = _matches(forward)
    assert _param(forward, "result") is True
    assert {m["concept"]["code"] for m in found} == {g.icd9 for g in rows}
    assert {m["equivalence"] for m in found} <= {"equivalent", "inexact"}
    back = fhir.execute("ConceptMap/$translate", method="get",
                        params={"url": "gem-icd9cm-icd10cm", "code": rows[0].icd9.replace(".", "")})
    assert _param(back, "result") is True and all(m["concept"]["system"] == CM for m in _matches(back))
    pcs = fhir.execute("ConceptMap/$translate", method="get",
                       params={"system": icd9, "code": "36.15", "target": PCS})
    assert all(m["concept"]["code"].startswith("021") for m in _matches(pcs)) and _matches(pcs)


def test_translate_to_ccsr_and_back(fhir):
    ccsr = fhir.execute("ConceptMap/$translate", method="get", params={"url": "ccsr-icd10cm", "code": "K92.2"})
    (match,) = _matches(ccsr)
    assert match["concept"]["system"] == "urn:medcodes:ahrq-ccsr" and match["concept"]["code"][:3].isalpha()
    members = fhir.execute("ConceptMap/$translate", method="get",
                           params={"url": "ccsr-icd10cm", "code": match["concept"]["code"], "reverse": "true"})
    assert "K92.2" in [m["concept"]["code"] for m in _matches(members)]


def test_translate_without_a_mapping_says_so_and_bad_requests_are_outcomes(fhir):
    none = fhir.execute("ConceptMap/$translate", method="get", params={"url": "ccsr-icd10cm", "code": "Q99.9X"})
    assert _param(none, "result") is False and "no mapping" in _param(none, "message")
    with pytest.raises(REFUSED):
        fhir.execute("ConceptMap/$translate", method="get", params={"url": "no-such-map", "code": "1"})
    with pytest.raises(REFUSED):
        fhir.execute("ConceptMap/$translate", method="get", params={"code": "410.71"})


def test_concept_maps_are_listed_and_read(fhir):
    from fhir.resources.R4B.conceptmap import ConceptMap
    listed = fhir.execute("ConceptMap", method="get")
    Bundle.model_validate(listed)
    ids = [e["resource"]["id"] for e in listed["entry"]]
    assert {"gem-icd9cm-icd10cm", "gem-icd10cm-icd9cm", "ccsr-icd10cm"} <= set(ids)
    one = fhir.execute("ConceptMap/ccsr-icd10cm", method="get")
    ConceptMap.model_validate(one)
    assert one["sourceUri"] == CM


ICD9 = "http://hl7.org/fhir/sid/icd-9-cm"
ICD9_PROCEDURES = "urn:oid:2.16.840.1.113883.6.104"


@pytest.mark.parametrize("params,result", [
    ({"system": CM, "code": "S30.1XXA"}, False), ({"system": CM, "code": "S30.1XXA", "date": "2024-05-01"}, True),
    ({"system": CM, "code": "S30.11XA", "version": "FY2024"}, False), ({"system": CM, "code": "S30.11XA"}, True),
    ({"system": ICD9, "code": "410.11"}, True), ({"system": ICD9_PROCEDURES, "code": "47.01"}, True),
    ({"system": ICD9, "code": "47.01"}, False)])
def test_validate_code_knows_code_history_and_the_icd9_parts(fhir, params, result):
    answer = fhir.execute("CodeSystem/$validate-code", method="get", params=params)
    Parameters.model_validate(answer)
    assert _param(answer, "result") is result


def test_icd9_lookup_subsumes_and_translate_through_the_client(fhir):
    lookup = fhir.execute("CodeSystem/$lookup", method="get", params={"system": ICD9, "code": "410.11"})
    Parameters.model_validate(lookup)
    props = _properties(lookup)
    assert props["parent"] == ["410.1"] and props["inactive"] == [False] and _param(lookup, "display").startswith(
        "Acute myocardial infarction")
    assert _param(fhir.execute("CodeSystem/$subsumes", method="get",
                               params={"system": ICD9, "codeA": "410", "codeB": "410.11"}), "outcome") == "subsumes"
    forward = fhir.execute("ConceptMap/$translate", method="get", params={"system": ICD9, "code": "410.11", "target": CM})
    Parameters.model_validate(forward)
    targets = [p["part"][1]["valueCoding"]["code"] for p in forward["parameter"] if p["name"] == "match"]
    assert "I21.09" in targets
    with pytest.raises(REFUSED):
        fhir.execute("CodeSystem/$validate-code", method="get", params={"system": CM, "code": "K92.2",
                                                                       "date": "2013-01-01"})
