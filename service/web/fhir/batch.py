"""FHIR batch: a Bundle of $lookup / $validate-code / $subsumes / $expand requests answered in one call."""
from __future__ import annotations

import json
from typing import Any, Callable
from urllib.parse import parse_qsl, urlsplit

from fastapi import APIRouter, Request

from service.web.fhir.params import FhirError, FhirResponse, read_body
from service.web.fhir.routes import (
    TerminologyDep,
    blocking,
    code_system_validation,
    documented,
    value_set_validation,
)
from service.web.fhir.terminology import Terminology

MAX_ENTRIES = 1000  # a claim file's codes, in one call
MAX_BATCH_BYTES = 2 * 1024 * 1024
REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed", 406: "Not Acceptable"}
OPERATIONS: dict[str, Callable[[Terminology, dict], dict]] = {
    "CodeSystem/$lookup": lambda tx, p: tx.lookup(p),
    "CodeSystem/$validate-code": code_system_validation,
    "CodeSystem/$subsumes": lambda tx, p: tx.subsumes(p),
    "ValueSet/$validate-code": value_set_validation,
    "ValueSet/$expand": lambda tx, p: tx.expand(p),
    "ConceptMap/$translate": lambda tx, p: tx.maps.translate(p),
}

router = APIRouter(default_response_class=FhirResponse)


BATCH_DOC = documented(("Bundle",), (), errors=(400, 413, 415), body=True)
BATCH_DOC["requestBody"] = {"required": True, "description": "a FHIR Bundle of type batch whose entries are GET "
                            "requests such as CodeSystem/$validate-code?system=...&code=...",
                            "content": {t: {"schema": {"type": "object", "required": ["resourceType", "type"]}}
                                        for t in ("application/fhir+json", "application/json")}}


@router.post("", summary="Batch: a Bundle (type batch) of GET terminology operations, answered as batch-response",
             openapi_extra=BATCH_DOC)
async def batch(request: Request, tx: TerminologyDep) -> dict:
    bundle = _bundle(await read_body(request, MAX_BATCH_BYTES))
    return await blocking(answer, tx, bundle["entry"])


def _bundle(raw: bytes) -> dict:
    try:
        bundle = json.loads(raw or b"null")
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise FhirError(400, "invalid", "the body is not JSON; send a Bundle of type batch") from None
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle" or bundle.get("type") != "batch":
        raise FhirError(400, "invalid", "send a Bundle resource with type 'batch'")
    entries = bundle.get("entry") or []
    if not isinstance(entries, list) or len(entries) > MAX_ENTRIES:
        raise FhirError(400, "too-costly", f"a batch holds a list of at most {MAX_ENTRIES} entries")
    return {"entry": entries}


def answer(tx: Terminology, entries: list[Any]) -> dict:
    """One response entry per request entry, in order; a failed entry gets its OperationOutcome, never the batch."""
    out = []
    for entry in entries:
        try:
            status, resource = 200, _one(tx, entry)
        except FhirError as exc:
            status, resource = exc.status, {"resourceType": "OperationOutcome", "issue": [
                {"severity": "error", "code": exc.code, "diagnostics": exc.message}]}
        out.append({"resource": resource, "response": {"status": f"{status} {REASONS.get(status, '')}".strip()}})
    return {"resourceType": "Bundle", "type": "batch-response", "entry": out}


def _one(tx: Terminology, entry: Any) -> dict:
    request = entry.get("request") if isinstance(entry, dict) else None
    if not isinstance(request, dict) or not isinstance(request.get("url"), str):
        raise FhirError(400, "invalid", "each entry needs request.method and request.url")
    if request.get("method") != "GET":
        raise FhirError(405, "not-supported", "batch entries must be GET requests of terminology operations")
    parts = urlsplit(request["url"][:4000])
    path = parts.path.strip("/")
    path = path.split("fhir/", 1)[1] if "fhir/" in path else path
    operation = OPERATIONS.get(path)
    if operation is None:
        raise FhirError(400, "not-supported", f"{path[:80]!r} is not supported in a batch; use one of "
                                              f"{', '.join(OPERATIONS)}")
    params: dict[str, list] = {}
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        params.setdefault(key, []).append(value)
    return operation(tx, params)
