"""The JSON REST API: search, typeahead, code records, children, Similar Codes, systems and health."""
from __future__ import annotations

from fastapi import APIRouter, Path, Query

from embeddings.settings import Settings
from service.search.autocode import Calibration, best_match
from service.search.codelist import missing_system_hint
from service.search.engine import MODES
from service.similar.rank import similar_codes
from service.web.deps import EngineDep, GroupsDep, SystemDep
from service.web.models import ERRORS, ChildrenOut, CodeRecordOut, SearchOut, SimilarOut, SuggestOut
from service.web.urls import code_url
from service.web.validity import known_years as validity_years
from service.web.views import (
    CODE_PATTERN,
    autocode_dict,
    code_detail,
    existing,
    health_dict,
    hit_dict,
    resolve_chapter,
    row_dict,
    search_dict,
    systems_dict,
    validity_dict,
)

# OpenAPI documents the default limits; the app factory writes the loaded systems and configured limits in.
DEFAULTS = Settings()
CALIBRATION = Calibration.load()  # fitted by `make calibrate`; without it every answer is 'no confident match'
SYSTEM_DOC = ("icd10cm, icd10pcs, icd9cm, icd9pcs, msdrg, ...; empty or all: the current code sets (ICD-10 and "
              "custom files; ICD-9-CM and MS-DRG are searched when named, or by an exact code)")
CodePath = Path(description="a code, with or without its dot (K92.2, k922, 0FT44ZZ)",
                json_schema_extra={"pattern": CODE_PATTERN})
QUERY_SCHEMA = {"minLength": 1, "maxLength": DEFAULTS.max_query_chars}
LIMIT_SCHEMA = {"minimum": 1, "maximum": DEFAULTS.max_limit}

router = APIRouter()


@router.get("/health", tags=["service"], summary="Liveness and the loaded index")
def health(engine: EngineDep) -> dict:
    return health_dict(engine)


@router.get("/api/systems", tags=["service"], summary="Loaded code systems with version, source, licence and counts")
def systems(engine: EngineDep, groups: GroupsDep) -> dict:
    return systems_dict(engine, groups)


@router.get("/api/search", tags=["search"], response_model=SearchOut, responses=ERRORS,
            summary="Ranked search by words or code, with total and paging")
def search(engine: EngineDep, groups: GroupsDep,
           q: str = Query(..., description="plain words or a code (k922, 0DTJ)", json_schema_extra=QUERY_SCHEMA),
           system: str | None = Query(None, description=SYSTEM_DOC),
           billable: bool | None = Query(None, description="true: billable codes only"),
           chapter: str | None = Query(None, description="chapter or PCS section code, e.g. 9 or icd10cm:9"),
           limit: int = Query(10, description="page size", json_schema_extra=LIMIT_SCHEMA),
           offset: int = Query(0, description="results to skip",
                               json_schema_extra={"minimum": 0, "maximum": DEFAULTS.max_offset}),
           mode: str = Query("hybrid", description="hybrid, lexical or dense",
                             json_schema_extra={"enum": list(MODES)})) -> dict:
    system, chapter = resolve_chapter(groups, system, chapter)
    result = engine.search(q, system, billable, chapter, limit, offset, mode)
    return search_dict(result, limit, offset, missing_system_hint(engine.store.systems, result))


@router.get("/api/suggest", tags=["search"], response_model=SuggestOut, responses=ERRORS,
            summary="Completions of a partial word or code, for search-as-you-type")
def suggest(engine: EngineDep,
            q: str = Query(..., description="what has been typed so far", json_schema_extra=QUERY_SCHEMA),
            system: str | None = Query(None, description=SYSTEM_DOC),
            limit: int = Query(10, description="how many", json_schema_extra=LIMIT_SCHEMA)) -> dict:
    return {"query": q, "suggestions": [hit_dict(h) for h in engine.suggest(q, system, limit)]}


@router.get("/api/codes/{system}/{code}", tags=["codes"], response_model=CodeRecordOut, responses=ERRORS,
            summary="The full code record as on its page: official content, hierarchy, notes, labelled other text")
def code_record(engine: EngineDep, system: SystemDep, code: str = CodePath) -> dict:
    return code_detail(engine, system, code)


@router.get("/api/validate", tags=["codes"], responses=ERRORS,
            summary="Is a code valid for claims in a fiscal year? Its standing, valid years and successors")
def validate(engine: EngineDep,
             system: str = Query(..., description="a loaded code system, e.g. icd10cm"),
             code: str = Query(..., description="the code, with or without its dot",
                               json_schema_extra={"pattern": CODE_PATTERN}),
             year: str | None = Query(None, description="fiscal year (2024, FY2024) or a date of service "
                                                        "(2024-05-01); default: the loaded release")) -> dict:
    system = engine.system_name(system)
    record = existing(engine, system, code)
    info = engine.store.systems[system]
    # A year asked of a system without code history is a 400 (check_year names the years it has), never ignored.
    wanted = year if year is not None else (validity_years(info) or [None])[-1]
    out = validity_dict(engine.store, system, record, wanted)
    return {"system": system, "code": record.code, "title": record.title, "billable": record.billable,
            "kind": record.kind, **out}


@router.get("/api/codes/{system}/{code}/children", tags=["codes"], response_model=ChildrenOut, responses=ERRORS,
            summary="The codes one level below this one")
def children(engine: EngineDep, system: SystemDep, code: str = CodePath) -> dict:
    record = existing(engine, system, code)
    return {"system": system, "code": record.code,
            "children": [row_dict(r) for r in engine.store.children(system, record.code)]}


@router.get("/api/codes/{system}/{code}/similar", tags=["codes"], response_model=SimilarOut, responses=ERRORS,
            summary="Similar Codes, each with the reasons it is similar")
def similar(engine: EngineDep, system: SystemDep, code: str = CodePath,
            limit: int = Query(10, description="how many", json_schema_extra=LIMIT_SCHEMA)) -> dict:
    record = existing(engine, system, code)
    found = similar_codes(engine, system, record.code, limit)
    return {"system": system, "code": record.code,
            "similar": [s.to_dict() | {"url": code_url(s.system, s.code)} for s in found]}


@router.get("/api/autocode", tags=["search"], responses=ERRORS,
            summary="Best match: one codable code for a text, with a calibrated confidence (batch coding)")
def autocode_route(engine: EngineDep,
                   text: str = Query(..., description="a diagnosis or procedure as written",
                                     json_schema_extra=QUERY_SCHEMA),
                   system: str | None = Query(None, description=SYSTEM_DOC)) -> dict:
    return autocode_dict(best_match(engine, text, engine.check_system(system), CALIBRATION))
