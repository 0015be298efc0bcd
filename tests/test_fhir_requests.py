"""FHIR requests that are not what they claim: bodies, media types, sizes and bytes get an OperationOutcome."""
from __future__ import annotations

import pytest

pytest.importorskip("fhir.resources.R4B", reason="fhir.resources is not installed (pip install fhir.resources)")
from tests.test_fhir import CM, outcome, resource  # noqa: E402


def test_a_body_that_is_not_parameters_is_a_400(client):
    assert "Parameters" in outcome(client.post("/fhir/CodeSystem/$lookup", content=b"{not json"), 400)
    assert "Parameters" in outcome(client.post("/fhir/CodeSystem/$lookup", json={"resourceType": "Patient"}), 400)


@pytest.mark.parametrize("body, words", [
    (b"[" * 50_000, "not JSON"),                                    # nesting deeper than the JSON parser recurses
    (b"\xff\xfe{", "not JSON"),
    (b'{"resourceType": "Parameters", "parameter": 5}', "must be a list"),
    (b'{"resourceType": "Parameters", "parameter": {"name": "url"}}', "must be a list"),
    (b'{"resourceType": "Parameters", "parameter": [{"valueUri": "x"}]}', "needs a name"),
    (b'{"resourceType": "Parameters", "parameter": [{"name": "system", "valueUri": ["a"]}, '
     b'{"name": "code", "valueCode": "K92"}]}', "single text"),
    (b'{"resourceType": "Parameters", "parameter": [{"name": "count", "valueInteger": true}, '
     b'{"name": "url", "valueUri": "http://hl7.org/fhir/sid/icd-10-cm"}]}', "single text"),
])
def test_malformed_parameters_bodies_are_400s(client, body, words):
    path = "/fhir/ValueSet/$expand" if b"count" in body else "/fhir/CodeSystem/$lookup"
    assert words in outcome(client.post(path, content=body, headers={"Content-Type": "application/fhir+json"}), 400)


def test_lookup_property_values_must_be_codes(client):
    body = {"resourceType": "Parameters", "parameter": [{"name": "system", "valueUri": CM},
                                                        {"name": "code", "valueCode": "K92"},
                                                        {"name": "property", "valueCode": {"a": 1}}]}
    assert "property" in outcome(client.post("/fhir/CodeSystem/$lookup", json=body), 400)


def test_request_bodies_over_the_limit_are_413_without_being_read(client):
    from service.web.fhir.params import MAX_BODY_BYTES
    big = {"resourceType": "Parameters", "parameter": [{"name": "filter", "valueString": "x" * MAX_BODY_BYTES}]}
    assert "larger than" in outcome(client.post("/fhir/ValueSet/$expand", json=big), 413)

    def chunks():  # no Content-Length: the limit holds while streaming too
        for _ in range(MAX_BODY_BYTES // 1000 + 2):
            yield b" " * 1000
    response = client.post("/fhir/ValueSet/$expand", content=chunks(), headers={"Content-Type": "application/json"})
    assert "larger than" in outcome(response, 413)


def test_bodies_of_other_media_types_are_415(client):
    response = client.post("/fhir/CodeSystem/$lookup", content=b"system=x&code=y",
                           headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert "application/fhir+json" in outcome(response, 415)
    ok = client.post("/fhir/CodeSystem/$lookup", headers={"Content-Type": "application/fhir+json; charset=utf-8"},
                     json={"resourceType": "Parameters", "parameter": [{"name": "system", "valueUri": CM},
                                                                       {"name": "code", "valueCode": "K92.2"}]})
    assert resource(ok)["resourceType"] == "Parameters"


@pytest.mark.parametrize("path", ["/fhir/CodeSystem/$lookup?system=%ff&code=K92", "/fhir/ValueSet/$expand?url=x%80",
                                  "/fhir/CodeSystem/icd10%ff"])
def test_bytes_that_are_not_utf8_are_operation_outcomes(client, path):
    assert "not UTF-8" in outcome(client.get(path), 400)
