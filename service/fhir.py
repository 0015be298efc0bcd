"""FHIR R4 terminology operations over the index: metadata, CodeSystem read/$lookup/$validate-code, ValueSet $expand."""
from __future__ import annotations

import json
import re
import uuid
from datetime import datetime, timezone

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from embeddings.documents import synonyms

FHIR_VERSION = "4.0.1"
MEDIA_TYPE = "application/fhir+json"
DEFAULT_COUNT = 20
MAX_PARAM_CHARS = 1000
# SNOMED CT "Synonym" designation use, the usual marker for alternative wordings in $lookup designations.
SYNONYM = {"system": "http://snomed.info/sct", "code": "900000000000013009", "display": "Synonym"}
ISSUE_CODES = {"bad_request": "invalid", "validation": "invalid", "not_found": "not-found",
               "method_not_allowed": "not-supported", "internal": "exception"}
# Grouping rows that are not codes a user can choose; they are marked abstract in expansions.
GROUPING_KINDS = frozenset({"chapter", "block", "section", "body_system", "table"})
PROPERTIES = [{"code": "parent", "type": "code", "description": "the code one level up"},
              {"code": "child", "type": "code", "description": "a code one level down"},
              {"code": "billable", "type": "boolean", "description": "valid for claims (a leaf code)"}]


class FhirError(Exception):
    """A terminology request that cannot be answered; becomes an OperationOutcome with a 4xx status."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class FhirResponse(JSONResponse):
    media_type = MEDIA_TYPE


def outcome(status: int, code: str, message: str) -> FhirResponse:
    issue = {"severity": "error", "code": code, "diagnostics": message, "details": {"text": message}}
    return FhirResponse({"resourceType": "OperationOutcome", "issue": [issue]}, status_code=status)


def parameters(*pairs: tuple[str, dict]) -> dict:
    return {"resourceType": "Parameters", "parameter": [{"name": name, **value} for name, value in pairs]}


# -- request parameters (query string, or a Parameters body on POST) ---------------------------------
async def read_params(request: Request) -> dict[str, list]:
    found: dict[str, list] = {}
    for key, value in request.query_params.multi_items():
        found.setdefault(key, []).append(value)
    if request.method == "POST":
        try:
            body = json.loads(await request.body() or b"{}")
        except (ValueError, UnicodeDecodeError):
            raise FhirError(400, "invalid", "the request body is not JSON; send a FHIR Parameters resource") from None
        if not isinstance(body, dict) or body.get("resourceType") != "Parameters":
            raise FhirError(400, "invalid", "the request body must be a FHIR Parameters resource")
        for item in body.get("parameter") or []:
            if not isinstance(item, dict) or not isinstance(item.get("name"), str):
                raise FhirError(400, "invalid", "each Parameters.parameter needs a name")
            value = next((v for k, v in item.items() if k.startswith("value")), None)
            if item["name"] == "coding" and isinstance(value, dict):
                for key in ("system", "code", "display", "version"):
                    if key in value:
                        found.setdefault(key, []).append(value[key])
            else:
                found.setdefault(item["name"], []).append(value)
    fmt = (found.get("_format") or [""])[0]
    if isinstance(fmt, str) and "xml" in fmt.lower():
        raise FhirError(406, "not-supported", "this server answers in JSON only (application/fhir+json)")
    return found


def one(params: dict, name: str, required: bool = False) -> str | None:
    values = params.get(name) or []
    value = values[0] if values else None
    if value is None or value == "":
        if required:
            raise FhirError(400, "required", f"parameter {name!r} is required")
        return None
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        raise FhirError(400, "invalid", f"parameter {name!r} must be a text value")
    value = str(value)
    if len(value) > MAX_PARAM_CHARS or any(ord(ch) < 32 for ch in value):
        raise FhirError(400, "invalid", f"parameter {name!r} is longer than {MAX_PARAM_CHARS} characters "
                                        "or contains control characters")
    return value


def integer(params: dict, name: str, default: int, high: int) -> int:
    raw = one(params, name)
    if raw is None:
        return default
    if not re.fullmatch(r"\d{1,9}", raw.strip()):
        raise FhirError(400, "invalid", f"parameter {name!r} must be a whole number from 0 to {high}, got {raw[:20]!r}")
    value = int(raw)
    if value > high:
        raise FhirError(400, "too-costly" if name == "count" else "invalid", f"parameter {name!r} is at most {high}")
    return value


# -- code systems ----------------------------------------------------------------------------------
class Terminology:
    """The index seen through FHIR: systems by canonical URI and the resources built from them."""

    def __init__(self, engine, settings):
        self.engine, self.store, self.settings = engine, engine.store, settings
        self.by_uri = {info["fhir_uri"]: name for name, info in self.store.systems.items() if info.get("fhir_uri")}

    def system(self, uri: str, version: str | None = None) -> str:
        name = self.by_uri.get(uri)
        if name is None:
            raise FhirError(404, "not-found", f"CodeSystem {uri[:200]!r} is not known to this server; "
                                              f"known: {', '.join(self.by_uri) or 'none'}")
        have = self.store.systems[name].get("version", "")
        if version and version != have:
            raise FhirError(404, "not-found", f"version {version[:40]!r} of {uri} is not loaded; this server has {have}")
        return name

    def value_set(self, url: str) -> str:
        base, marker, rest = url.partition("?fhir_vs")
        if marker and rest:
            raise FhirError(400, "not-supported", f"only the implicit value set of all codes ({base}?fhir_vs) is "
                                                  f"supported, not {url[:200]!r}")
        return self.system(base)

    def uri(self, name: str) -> str:
        return self.store.systems[name].get("fhir_uri", "")

    def record(self, name: str, code: str):
        """The record whose official code is exactly `code`; a near miss ('k922') is reported, not accepted."""
        record = self.store.record(name, code)
        if record is not None and record.code == code:
            return record, None
        hint = f"; did you mean {record.code!r}?" if record is not None else ""
        return None, f"code {code[:40]!r} is not in {self.uri(name)} (version {self.version(name)}){hint}"

    def version(self, name: str) -> str:
        return self.store.systems[name].get("version", "")

    def code_system(self, name: str) -> dict:
        info = self.store.systems[name]
        return {"resourceType": "CodeSystem", "id": name, "url": info.get("fhir_uri"), "version": info.get("version"),
                "name": re.sub(r"[^A-Za-z0-9_]", "", info.get("title", name).upper()) or name.upper(),
                "title": info.get("title", name), "status": "active", "experimental": False,
                "publisher": info.get("source", ""), "copyright": info.get("licence", ""), "caseSensitive": True,
                "hierarchyMeaning": "is-a", "content": "not-present",
                "count": int(info.get("counts", {}).get("codes", 0)), "property": PROPERTIES}

    def lookup(self, params: dict) -> dict:
        uri = one(params, "system", required=True)
        name = self.system(uri, one(params, "version"))
        record, problem = self.record(name, one(params, "code", required=True))
        if record is None:
            raise FhirError(404, "not-found", problem)
        wanted = {str(p) for p in params.get("property") or []}
        props = ([("parent", {"valueCode": record.parent})] if record.parent else [])
        props += [("child", {"valueCode": row[2]}) for row in self.store.children(name, record.code)]
        props += [("billable", {"valueBoolean": record.billable})]
        pairs = [("name", {"valueString": self.store.systems[name].get("title", name)}),
                 ("version", {"valueString": self.version(name)}), ("display", {"valueString": record.title})]
        pairs += [("designation", {"part": [{"name": "language", "valueCode": "en"},
                                            {"name": "use", "valueCoding": SYNONYM},
                                            {"name": "value", "valueString": term}]}) for term in synonyms(record)]
        pairs += [("property", {"part": [{"name": "code", "valueCode": code}, {"name": "value", **value}]})
                  for code, value in props if not wanted or code in wanted]
        return parameters(*pairs)

    def validate(self, name: str, code: str, display: str | None) -> dict:
        record, problem = self.record(name, code)
        if record is None:
            return parameters(("result", {"valueBoolean": False}), ("message", {"valueString": problem}))
        shown = ("result", {"valueBoolean": True}), ("display", {"valueString": record.title})
        if display is None or _words(display) in {_words(t) for t in [record.title, *synonyms(record)]}:
            return parameters(*shown)
        message = f"{display[:200]!r} is not a display of {code}; the official display is {record.title!r}"
        return parameters(("result", {"valueBoolean": False}), ("message", {"valueString": message}), shown[1])

    def expand(self, params: dict) -> dict:
        url = one(params, "url", required=True)
        name = self.value_set(url)
        count = integer(params, "count", DEFAULT_COUNT, self.settings.max_limit)
        offset = integer(params, "offset", 0, 10**9)
        text = one(params, "filter")
        if text and text.strip():
            result = self.engine.search(text, name, None, None, max(count, 1), offset)
            total, rows = result.total, [(h.code, h.title, h.kind) for h in result.hits][:count]
        else:
            total = int(self.store.systems[name].get("counts", {}).get("codes", 0))
            rows = self.store.db.execute("SELECT code, title, kind FROM codes WHERE system = ? ORDER BY id "
                                         "LIMIT ? OFFSET ?", (name, count, offset)).fetchall()
        uri, version = self.uri(name), self.version(name)
        used = [("url", {"valueUri": url}), ("count", {"valueInteger": count}), ("offset", {"valueInteger": offset}),
                ("used-codesystem", {"valueUri": f"{uri}|{version}"})] + ([("filter", {"valueString": text})]
                                                                         if text else [])
        contains = [{"system": uri, "version": version, "code": code, "display": title}
                    | ({"abstract": True} if kind in GROUPING_KINDS else {}) for code, title, kind in rows]
        expansion = {"identifier": f"urn:uuid:{uuid.uuid4()}", "timestamp": now(), "total": total, "offset": offset,
                     "parameter": [{"name": n, **v} for n, v in used]}
        if contains:
            expansion["contains"] = contains
        return {"resourceType": "ValueSet", "url": f"{uri}?fhir_vs", "version": version, "status": "active",
                "name": f"All{self.code_system(name)['name']}Codes", "expansion": expansion}

    def capabilities(self, terminology: bool) -> dict:
        common = {"status": "active", "date": self.store.manifest.get("built_at") or now(), "kind": "instance",
                  "software": {"name": "medcodes", "version": "0.1.0"},
                  "implementation": {"description": "medcodes terminology service over ICD-10-CM / ICD-10-PCS"}}
        if terminology:
            versions = [{"uri": uri, "version": [{"code": self.version(name), "isDefault": True,
                                                  "property": [p["code"] for p in PROPERTIES]}]}
                        for uri, name in self.by_uri.items()]
            return {"resourceType": "TerminologyCapabilities", **common, "codeSystem": versions,
                    "expansion": {"hierarchical": False, "paging": True, "incomplete": False,
                                  "parameter": [{"name": n} for n in ("url", "filter", "count", "offset")],
                                  "textFilter": "Words or a code; ranked by the hybrid search (words and meaning)."},
                    "validateCode": {"translations": False}}

        def op(name: str, resource: str) -> dict:
            return {"name": name, "definition": f"http://hl7.org/fhir/OperationDefinition/{resource}-{name}"}
        resources = [{"type": "CodeSystem", "interaction": [{"code": "read"}, {"code": "search-type"}],
                      "searchParam": [{"name": "url", "type": "uri"}],
                      "operation": [op("lookup", "CodeSystem"), op("validate-code", "CodeSystem")]},
                     {"type": "ValueSet", "operation": [op("expand", "ValueSet"), op("validate-code", "ValueSet")]}]
        return {"resourceType": "CapabilityStatement", **common, "fhirVersion": FHIR_VERSION,
                "format": [MEDIA_TYPE, "json"],
                "instantiates": ["http://hl7.org/fhir/CapabilityStatement/terminology-server"],
                "rest": [{"mode": "server", "resource": resources}]}


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _words(text: str) -> str:
    return " ".join(text.lower().split())


def documented(*names: tuple[str, str]) -> dict:
    return {"parameters": [{"name": n, "in": "query", "required": False, "schema": {"type": "string"},
                            "description": d} for n, d in names]}


def router(engine, settings) -> APIRouter:
    tx = Terminology(engine, settings)
    fhir = APIRouter(default_response_class=FhirResponse)
    system_doc = ("system", "code system URI, e.g. http://hl7.org/fhir/sid/icd-10-cm")
    url_doc = ("url", "value set URL: the system URI, optionally with ?fhir_vs")

    @fhir.get("/metadata", summary="CapabilityStatement, or TerminologyCapabilities with mode=terminology")
    async def metadata(request: Request):
        mode = one(await read_params(request), "mode")
        if mode not in (None, "full", "normative", "terminology"):
            raise FhirError(400, "invalid", f"mode must be full, normative or terminology, got {mode[:40]!r}")
        return tx.capabilities(mode == "terminology")

    def operation(path: str, summary: str, *docs: tuple[str, str]):
        """GET with query parameters and POST with a Parameters body, as FHIR operations allow."""
        def register(endpoint):
            for method in ("GET", "POST"):
                fhir.add_api_route(path, endpoint, methods=[method], summary=summary,
                                   operation_id=f"fhir_{endpoint.__name__}_{method.lower()}",
                                   openapi_extra=documented(*docs) if method == "GET" else None)
            return endpoint
        return register

    @operation("/CodeSystem/$lookup", "Display, designations, properties", system_doc,
               ("code", "the code, e.g. K92.2"), ("version", "optional"),
               ("property", "parent, child or billable (repeatable)"))
    async def lookup(request: Request):
        return tx.lookup(await read_params(request))

    @operation("/CodeSystem/$validate-code", "Is the code (and display) valid?",
               ("url", "code system URI (or use system)"), system_doc, ("code", "the code"),
               ("display", "optional display to check"))
    async def validate_code(request: Request):
        params = await read_params(request)
        uri = one(params, "url") or one(params, "system", required=True)
        name = tx.system(uri, one(params, "version"))
        return tx.validate(name, one(params, "code", required=True), one(params, "display"))

    @operation("/ValueSet/$validate-code", "Is the code in the value set?", url_doc, system_doc,
               ("code", "the code"), ("display", "optional"))
    async def value_set_validate(request: Request):
        params = await read_params(request)
        name = tx.value_set(one(params, "url", required=True))
        system = one(params, "system")
        if system and tx.system(system) != name:
            return parameters(("result", {"valueBoolean": False}),
                              ("message", {"valueString": f"{system} is not the code system of this value set"}))
        return tx.validate(name, one(params, "code", required=True), one(params, "display"))

    @operation("/ValueSet/$expand", "Codes of a system's implicit value set", url_doc,
               ("filter", "text to match (typeahead)"), ("count", f"codes to return, 0..{settings.max_limit}"),
               ("offset", "codes to skip"))
    async def expand(request: Request):
        return tx.expand(await read_params(request))

    @fhir.get("/CodeSystem", summary="The code systems this server has (searchset Bundle)",
              openapi_extra=documented(("url", "only the code system with this URI")))
    async def code_systems(request: Request):
        url = one(await read_params(request), "url")
        names = [n for u, n in tx.by_uri.items() if url in (None, u)]
        base = str(request.base_url).rstrip("/") + "/fhir/CodeSystem/"
        return {"resourceType": "Bundle", "type": "searchset", "total": len(names),
                "entry": [{"fullUrl": base + n, "resource": tx.code_system(n), "search": {"mode": "match"}}
                          for n in names]}

    @fhir.get("/CodeSystem/{name}", summary="One code system (content not-present: use $lookup / $expand)")
    async def code_system(name: str):
        if name not in tx.by_uri.values():
            raise FhirError(404, "not-found", f"no CodeSystem with id {name[:40]!r}; ids: {', '.join(tx.by_uri.values())}")
        return tx.code_system(name)

    return fhir
