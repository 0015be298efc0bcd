"""A Clinical Table Search Service-shaped route, so CTSS clients and the autocomplete-lhc widget work unchanged."""
from __future__ import annotations

from fastapi import APIRouter, Path, Query

from service.errors import QueryError
from service.search.engine import FLAT_FEATURES
from service.web.deps import EngineDep
from service.web.models import ERRORS

router = APIRouter()

# The fields a CTSS data set of medcodes has: CTSS's own `code` and `name`, and medcodes' extras.
FIELDS = ("code", "name", "short", "billable", "kind", "chapter", "parent", "system")
DEFAULT_COUNT = 7  # CTSS's default page size
MAX_COUNT = 500  # CTSS's upper limit; medcodes returns at most its own page size limit per call
MAX_WINDOW = 7500  # CTSS: offset + count may not pass this


def _fields(raw: str | None, default: str, what: str) -> list[tuple[str, str]]:
    """`name` or `name:alias` items of a comma-separated list (ef allows aliases; the others ignore them)."""
    out = []
    for item in (raw if raw is not None else default).split(","):
        field, _, alias = item.strip().partition(":")
        if not field:
            continue
        if field not in FIELDS:
            raise QueryError(f"{what}: unknown field {field[:40]!r}; fields are {', '.join(FIELDS)}")
        out.append((field, alias or field))
    return out


def _value(field: str, hit, record) -> object:
    values = {"code": hit.code, "name": hit.title, "billable": hit.billable, "kind": hit.kind,
              "chapter": hit.chapter, "system": hit.system,
              "short": record.short if record else "", "parent": (record.parent or "") if record else ""}
    return values[field]


@router.get("/api/ctss/{system}/search", tags=["search"], responses=ERRORS,
            summary="Clinical Table Search Service shape: [total, codes, extra data, display strings]")
def ctss_search(engine: EngineDep,
                system: str = Path(description="a loaded code system, e.g. icd10cm"),
                terms: str = Query(..., description="what was typed (words, partial words or a code)"),
                maxList: int | None = Query(None, description="results wanted (CTSS: default 7, at most 500)"),
                count: int | None = Query(None, description="page size when maxList is not given (default 7)"),
                offset: int = Query(0, description="results to skip (offset + count at most 7500)"),
                sf: str | None = Query(None, description="search fields: code,name (default) or code only"),
                df: str | None = Query(None, description="display fields, default code,name"),
                ef: str | None = Query(None, description="extra fields, e.g. billable,short:claim_text"),
                cf: str | None = Query(None, description="the field returned as the code (default code)"),
                q: str | None = Query(None, description="a further condition: billable:true, kind:KIND or "
                                                         "code:PREFIX*")) -> list:
    wanted = maxList if maxList is not None else (count if count is not None else DEFAULT_COUNT)
    if not 0 <= wanted <= MAX_COUNT:
        raise QueryError(f"maxList/count must be between 0 and {MAX_COUNT}")
    if offset < 0 or offset + wanted > MAX_WINDOW:
        raise QueryError(f"offset must be at least 0 and offset + count at most {MAX_WINDOW}")
    search_fields = {f for f, _ in _fields(sf, "code,name", "sf")}
    display, extra = _fields(df, "code,name", "df"), _fields(ef, "", "ef")
    (code_field, _alias), = _fields(cf, "code", "cf")[:1] or [("code", "code")]
    billable, kind, code_prefix = _condition(q)
    system = engine.check_system(system) or ""
    if not system:
        raise QueryError("name one code system, for example icd10cm or icd10pcs")
    take = min(wanted, engine.settings.max_limit)
    start = min(offset, engine.settings.max_offset)
    if search_fields == {"code"}:  # code prefixes only, in code order, as CTSS does with sf=code
        text = terms.strip().replace(" ", "")
        hits = engine.suggest(text, system, engine.settings.max_limit) if text else []
        hits = [h for h in hits if h.code.replace(".", "").upper().startswith(text.replace(".", "").upper())]
        total, hits = len(hits), hits[start:start + take]
    else:
        result = engine.search(terms, system, billable, None, max(take, 1), start, features=FLAT_FEATURES)
        total, hits = result.total, list(result.hits[:take])
    if kind or code_prefix:
        hits = [h for h in hits if (not kind or h.kind == kind) and h.code.upper().startswith(code_prefix)]
    records = engine.store.records(system, [h.code for h in hits]) if hits else {}
    codes = [_value(code_field, h, records.get(h.code)) for h in hits]
    extras = {alias: [_value(f, h, records.get(h.code)) for h in hits] for f, alias in extra} or None
    shown = [[str(_value(f, h, records.get(h.code))) for f, _ in display] for h in hits]
    return [total, codes, extras, shown]


def _condition(q: str | None) -> tuple[bool | None, str, str]:
    """The subset of CTSS's `q` medcodes understands: space-separated billable:true|false, kind:K, code:PREFIX*."""
    billable, kind, prefix = None, "", ""
    for part in (q or "").split():
        field, _, value = part.partition(":")
        if field == "billable" and value in ("true", "false"):
            billable = value == "true"
        elif field == "kind" and value:
            kind = value
        elif field == "code" and value:
            prefix = value.rstrip("*").upper()
        else:
            raise QueryError(f"q: {part[:40]!r} is not understood; use billable:true, kind:KIND or code:PREFIX*")
    return billable, kind, prefix
