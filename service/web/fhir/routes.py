"""FHIR R4 terminology routes: metadata, CodeSystem read/search/$lookup/$validate-code, ValueSet operations."""
from __future__ import annotations

from typing import Annotated, Any, Callable

from anyio import CapacityLimiter, to_thread
from fastapi import APIRouter, Depends, Request

from embeddings.settings import Settings
from service.web.fhir.params import (
    MAX_BODY_BYTES,
    MEDIA_TYPE,
    FhirError,
    FhirResponse,
    one,
    parameters,
    read_params,
)
from service.web.fhir.terminology import MAX_EXPAND_OFFSET, Terminology

DEFAULTS = Settings()

ERROR_TEXT = {400: "bad or missing parameter (OperationOutcome)", 404: "unknown code system, version or code",
              406: "a format other than JSON was asked for", 413: f"request body over {MAX_BODY_BYTES} bytes",
              415: "request body not application/fhir+json"}
OUTCOME_SCHEMA = {"type": "object", "required": ["resourceType", "issue"], "properties": {
    "resourceType": {"type": "string", "enum": ["OperationOutcome"]},
    "issue": {"type": "array", "minItems": 1, "items": {
        "type": "object", "required": ["severity", "code"],
        "properties": {"severity": {"type": "string"}, "code": {"type": "string"}, "diagnostics": {"type": "string"}}}}}}
PARAMETERS_SCHEMA = {"type": "object", "required": ["resourceType"], "properties": {
    "resourceType": {"type": "string", "enum": ["Parameters"]},
    "parameter": {"type": "array", "items": {"type": "object", "required": ["name"], "properties": {
        "name": {"type": "string"}, "valueUri": {"type": "string"}, "valueCode": {"type": "string"},
        "valueString": {"type": "string"}, "valueInteger": {"type": "integer", "minimum": 0},
        "valueCoding": {"type": "object", "properties": {"system": {"type": "string"}, "code": {"type": "string"}}}}}}}}


def resource_schema(*kinds: str) -> dict:
    return {"type": "object", "required": ["resourceType"],
            "properties": {"resourceType": {"type": "string", "enum": list(kinds)}}}


def documented(kinds: tuple[str, ...], params: tuple[tuple, ...], errors=(400, 404, 406), body: bool = False) -> dict:
    """OpenAPI for a FHIR route: its query parameters (name, description, schema, required), body and responses."""
    ok = {MEDIA_TYPE: {"schema": resource_schema(*kinds)}}
    responses = {"200": {"description": " or ".join(kinds), "content": ok}}
    responses |= {str(s): {"description": ERROR_TEXT[s], "content": {MEDIA_TYPE: {"schema": OUTCOME_SCHEMA}}}
                  for s in errors}
    extra: dict = {"responses": responses}
    if body:
        extra["requestBody"] = {"required": True, "description": "a FHIR Parameters resource",
                                "content": {t: {"schema": PARAMETERS_SCHEMA} for t in (MEDIA_TYPE, "application/json")}}
    else:
        extra["parameters"] = [{"name": p[0], "in": "query", "description": p[1], "required": len(p) > 3 and p[3],
                                "schema": p[2] if len(p) > 2 else {"type": "string"}} for p in params]
    return extra


async def get_terminology(request: Request) -> Terminology:
    tx: Terminology = request.app.state.terminology
    return tx


TerminologyDep = Annotated[Terminology, Depends(get_terminology)]
# Terminology work is blocking (search, SQLite): it runs in worker threads, at most this many at once, so a slow
# $expand?filter= never stalls the event loop (and /health with it).
FHIR_THREADS = CapacityLimiter(8)


async def blocking(fn: Callable[..., Any], *args: Any) -> Any:
    return await to_thread.run_sync(fn, *args, limiter=FHIR_THREADS)


router = fhir = APIRouter(default_response_class=FhirResponse)
# An empty parameter counts as not given, as in FHIR search; a required one must have a value.
text, needed = {"type": "string", "maxLength": 1000}, {"type": "string", "minLength": 1, "maxLength": 1000}
system_doc = ("system", "code system URI, e.g. http://hl7.org/fhir/sid/icd-10-cm", text)
url_doc = ("url", "value set URL: the system URI, optionally with ?fhir_vs, ?fhir_vs=isa/CODE, ?fhir_vs=billable or "
                  "?fhir_vs=isa/CODE;billable", needed, True)


@fhir.get("/metadata", summary="CapabilityStatement, or TerminologyCapabilities with mode=terminology",
          openapi_extra=documented(("CapabilityStatement", "TerminologyCapabilities"),
                                   (("mode", "full, normative or terminology (empty: not given)",
                                     {"type": "string", "enum": ["", "full", "normative", "terminology"]}),),
                                   errors=(400, 406)))


async def metadata(request: Request, tx: TerminologyDep) -> dict:
    mode = one(await read_params(request), "mode")
    if mode not in (None, "full", "normative", "terminology"):
        raise FhirError(400, "invalid", f"mode must be full, normative or terminology, got {mode[:40]!r}")
    return tx.capabilities(mode == "terminology")


def operation(path: str, summary: str, kinds: tuple[str, ...], *params: tuple):
    """GET with query parameters and POST with a Parameters body, as FHIR operations allow."""
    def register(endpoint):
        for method in ("GET", "POST"):
            post = method == "POST"
            fhir.add_api_route(path, endpoint, methods=[method], summary=summary,
                               operation_id=f"fhir_{endpoint.__name__}_{method.lower()}",
                               openapi_extra=documented(kinds, params, (400, 404, 406, 413, 415) if post
                                                        else (400, 404, 406), body=post))
        return endpoint
    return register


@operation("/CodeSystem/$lookup", "Display, designations, properties", ("Parameters",),
           system_doc[:2] + (needed, True), ("code", "the code, e.g. K92.2", needed, True),
           ("version", "optional", text),
           ("property", "parent, child, billable, inactive or chapter (repeatable)",
            {"type": "string", "enum": ["", "parent", "child", "billable", "inactive", "chapter"]}))


async def lookup(request: Request, tx: TerminologyDep) -> dict:
    return await blocking(tx.lookup, await read_params(request))


@operation("/CodeSystem/$validate-code", "Is the code (and display) valid?", ("Parameters",),
           ("url", "code system URI (or use system)", text), system_doc, ("code", "the code", needed, True),
           ("display", "optional display to check", text),
           ("version", "the loaded release, or an earlier fiscal year with a code list (FY2024)", text),
           ("date", "date of service (2024-05-01): answers for the fiscal year it falls in", text))


async def validate_code(request: Request, tx: TerminologyDep) -> dict:
    return await blocking(code_system_validation, tx, await read_params(request))


@operation("/ValueSet/$validate-code", "Is the code in the value set?", ("Parameters",), url_doc, system_doc,
           ("code", "the code", needed, True), ("display", "optional", text))


async def value_set_validate(request: Request, tx: TerminologyDep) -> dict:
    return await blocking(value_set_validation, tx, await read_params(request))


def value_set_validation(tx: Terminology, params: dict) -> dict:
    name, ref = tx.value_set_ref(one(params, "url", required=True))
    system = one(params, "system")
    if system and tx.system(system) != name:
        return parameters(("result", {"valueBoolean": False}),
                          ("message", {"valueString": f"{system} is not the code system of this value set"}))
    return tx.validate_in(name, ref, one(params, "code", required=True), one(params, "display"))


def code_system_validation(tx: Terminology, params: dict) -> dict:
    uri = one(params, "url") or one(params, "system", required=True)
    version = one(params, "version")
    name = tx.system(uri, version)
    return tx.validate(name, one(params, "code", required=True), one(params, "display"),
                       tx.year(name, version, one(params, "date")))


@operation("/CodeSystem/$subsumes", "Is code A above, below or the same as code B?", ("Parameters",),
           system_doc[:2] + (needed, True), ("codeA", "the first code, e.g. I21", needed, True),
           ("codeB", "the second code, e.g. I21.4", needed, True), ("version", "optional", text))


async def subsumes(request: Request, tx: TerminologyDep) -> dict:
    return await blocking(tx.subsumes, await read_params(request))


@operation("/ValueSet/$expand", "Codes of a system's implicit value set", ("ValueSet",), url_doc,
           ("filter", "text to match (typeahead)", text),
           ("count", "codes to return", {"type": "integer", "minimum": 0, "maximum": DEFAULTS.max_limit}),
           ("offset", f"codes to skip (at most {DEFAULTS.max_offset} with a filter)",
            {"type": "integer", "minimum": 0, "maximum": MAX_EXPAND_OFFSET}))


async def expand(request: Request, tx: TerminologyDep) -> dict:
    return await blocking(tx.expand, await read_params(request))


@fhir.get("/CodeSystem", summary="The code systems this server has (searchset Bundle)",
          openapi_extra=documented(("Bundle",), (("url", "only the code system with this URI", text),),
                                   errors=(400, 406)))


async def code_systems(request: Request, tx: TerminologyDep) -> dict:
    url = one(await read_params(request), "url")
    names = [n for u, n in tx.by_uri.items() if url in (None, u)]
    base = str(request.base_url).rstrip("/") + "/fhir/CodeSystem/"
    return {"resourceType": "Bundle", "type": "searchset", "total": len(names),
            "entry": [{"fullUrl": base + n, "resource": tx.code_system(n), "search": {"mode": "match"}}
                      for n in names]}


@fhir.get("/CodeSystem/{name}", summary="One code system (content not-present: use $lookup / $expand)",
          openapi_extra=documented(("CodeSystem",), (), errors=(404,)))


async def code_system(name: str, tx: TerminologyDep) -> dict:
    if name not in tx.by_uri.values():
        ids = ", ".join(tx.by_uri.values())
        raise FhirError(404, "not-found", f"no CodeSystem with id {name[:40]!r}; ids: {ids}")
    return tx.code_system(name)


@operation("/ConceptMap/$translate", "Translate a code through a crosswalk (GEMs, CCSR, CCS)", ("Parameters",),
           ("url", "ConceptMap URL or id (or use system and target)", text),
           ("system", "source code system URI, e.g. http://hl7.org/fhir/sid/icd-9-cm", text),
           ("code", "the code, e.g. 410.71", needed, True), ("target", "target code system URI (optional)", text),
           ("targetsystem", "the same as target", text),
           ("reverse", "true: translate from the map's target to its source",
            {"type": "string", "enum": ["", "true", "false"]}))


async def translate(request: Request, tx: TerminologyDep) -> dict:
    return await blocking(tx.maps.translate, await read_params(request))


@fhir.get("/ConceptMap", summary="The crosswalks this server holds (searchset Bundle)",
          openapi_extra=documented(("Bundle",), (("url", "only the map with this URL", text),), errors=(400, 406)))


async def concept_maps(request: Request, tx: TerminologyDep) -> dict:
    url = one(await read_params(request), "url")
    chosen = [m for m in tx.maps.maps if url in (None, m.url)]
    base = str(request.base_url).rstrip("/") + "/fhir/ConceptMap/"
    return {"resourceType": "Bundle", "type": "searchset", "total": len(chosen),
            "entry": [{"fullUrl": base + m.id, "resource": tx.maps.resource(m), "search": {"mode": "match"}}
                      for m in chosen]}


@fhir.get("/ConceptMap/{map_id}", summary="One crosswalk (its elements: use $translate)",
          openapi_extra=documented(("ConceptMap",), (), errors=(404,)))


async def concept_map(map_id: str, tx: TerminologyDep) -> dict:
    return tx.maps.resource(tx.maps.find(map_id))
