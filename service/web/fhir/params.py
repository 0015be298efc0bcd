"""FHIR request plumbing: OperationOutcome errors; parameters from the query or a size-limited Parameters body."""
from __future__ import annotations

import json
import re

from fastapi import Request
from fastapi.responses import JSONResponse

FHIR_VERSION = "4.0.1"
MEDIA_TYPE = "application/fhir+json"
BODY_TYPES = frozenset({MEDIA_TYPE, "application/json", "application/json+fhir"})
MAX_PARAM_CHARS = 1000
MAX_BODY_BYTES = 64 * 1024  # a Parameters resource for a terminology operation is a few hundred bytes
ISSUE_CODES = {"bad_request": "invalid", "validation": "invalid", "not_found": "not-found",
               "method_not_allowed": "not-supported", "too_large": "too-long", "unsupported_media_type": "not-supported",
               "internal": "exception"}


class FhirError(Exception):
    """A terminology request that cannot be answered; becomes an OperationOutcome with a 4xx status."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class FhirResponse(JSONResponse):
    media_type = MEDIA_TYPE


def outcome(status: int, code: str, message: str, headers: dict | None = None) -> FhirResponse:
    issue = {"severity": "error", "code": code, "diagnostics": message, "details": {"text": message}}
    return FhirResponse({"resourceType": "OperationOutcome", "issue": [issue]}, status_code=status, headers=headers)


def parameters(*pairs: tuple[str, dict]) -> dict:
    return {"resourceType": "Parameters", "parameter": [{"name": name, **value} for name, value in pairs]}


async def read_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """The request body as JSON bytes; another media type is a 415, more than `limit` bytes a 413 (read no further)."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media and media not in BODY_TYPES:
        raise FhirError(415, "not-supported", f"send a Parameters resource as {MEDIA_TYPE}, not {media[:60]!r}")
    too_large = FhirError(413, "too-long", f"the request body is larger than {limit} bytes")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


async def read_params(request: Request) -> dict[str, list]:
    """Parameters by name (each a list: FHIR parameters repeat) from the query string and, on POST, the body."""
    found: dict[str, list] = {}
    for key, value in request.query_params.multi_items():
        found.setdefault(key, []).append(value)
    if request.method == "POST":
        for name, value in _body_params(await read_body(request)):
            found.setdefault(name, []).append(value)
    fmt = (found.get("_format") or [""])[0]
    if isinstance(fmt, str) and "xml" in fmt.lower():
        raise FhirError(406, "not-supported", "this server answers in JSON only (application/fhir+json)")
    return found


def _body_params(raw: bytes) -> list[tuple[str, object]]:
    try:
        body = json.loads(raw or b"{}")
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise FhirError(400, "invalid", "the request body is not JSON; send a FHIR Parameters resource") from None
    if not isinstance(body, dict) or body.get("resourceType") != "Parameters":
        raise FhirError(400, "invalid", "the request body must be a FHIR Parameters resource")
    items = body.get("parameter", [])
    if not isinstance(items, list):
        raise FhirError(400, "invalid", "Parameters.parameter must be a list of {name, value[x]} entries")
    pairs = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise FhirError(400, "invalid", "each Parameters.parameter needs a name")
        value = next((v for k, v in item.items() if k.startswith("value")), None)
        if item["name"] == "coding" and isinstance(value, dict):
            pairs += [(key, value[key]) for key in ("system", "code", "display", "version") if key in value]
        else:
            pairs.append((item["name"], value))
    return pairs


def one(params: dict, name: str, required: bool = False) -> str | None:
    values = params.get(name) or []
    value = values[0] if values else None
    if value is None or value == "":
        if required:
            raise FhirError(400, "required", f"parameter {name!r} is required")
        return None
    return _text(name, value)


def every(params: dict, name: str) -> list[str]:
    """All values of a repeatable parameter (such as $lookup's property), each checked like `one`."""
    return [_text(name, v) for v in params.get(name) or [] if v not in (None, "")]


def _text(name: str, value) -> str:
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        raise FhirError(400, "invalid", f"parameter {name!r} must be a single text, code or whole-number value")
    value = str(value)
    if len(value) > MAX_PARAM_CHARS or any(ord(ch) < 32 for ch in value):
        raise FhirError(400, "invalid", f"parameter {name!r} is longer than {MAX_PARAM_CHARS} characters "
                                        "or contains control characters")
    return value


def integer(params: dict, name: str, default: int, high: int) -> int:
    raw = one(params, name)
    if raw is None:
        return default
    if not re.fullmatch(r"\d{1,10}", raw.strip()) or int(raw) > high:
        raise FhirError(400, "too-costly" if name == "count" and raw.strip().isdigit() else "invalid",
                        f"parameter {name!r} must be a whole number from 0 to {high}, got {raw[:20]!r}")
    return int(raw)
