"""FastAPI app factory and the JSON REST API; errors are JSON (or FHIR OperationOutcome, or HTML) 4xx, never tracebacks."""
from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from embeddings.settings import Settings
from service import fhir, pages
from service.engine import SearchEngine
from service.similar_data import similar_data
from service.query import QueryError
from service.similar import UnknownCode, similar_codes

DESCRIPTION = """Search ICD-10-CM and ICD-10-PCS codes in plain language, read code records and Similar Codes.

Errors are JSON `{"error": ..., "message": ...}`: 400 for a bad parameter (empty or over-long query, unknown
system, limit out of range), 404 for an unknown code, 422 for a parameter of the wrong type. FHIR R4 terminology
operations live under `/fhir` (see `/fhir/metadata`)."""
TAGS = [{"name": "search", "description": "Ranked search and typeahead"},
        {"name": "codes", "description": "Code records, hierarchy and Similar Codes"},
        {"name": "service", "description": "Loaded code systems and health"},
        {"name": "fhir", "description": "FHIR R4 terminology operations (application/fhir+json)"}]


class ErrorBody(BaseModel):
    error: str = Field(description="bad_request, not_found, validation or internal")
    message: str = Field(description="what was wrong, in words")


class HitOut(BaseModel):
    system: str
    code: str
    title: str
    billable: bool
    kind: str = Field(description="chapter, block, category, subcategory, code (CM); section, table, code (PCS)")
    chapter: str
    score: float
    reasons: list[str] = Field(description="why the code matched: code, code prefix, words: ..., semantic ...")
    url: str = Field(description="the code page")


class SearchOut(BaseModel):
    query: str
    total: int = Field(description="matches over all pages")
    limit: int
    offset: int
    next_offset: int | None = Field(description="offset of the next page, or null on the last page")
    took_ms: float
    mode: str
    did_you_mean: str | None = Field(None, description="a corrected query, when the engine has one")
    expansions: list[str] = Field([], description="lay terms or abbreviations the engine also searched for")
    results: list[HitOut]


class SuggestOut(BaseModel):
    query: str
    suggestions: list[HitOut]


class SimilarOut(BaseModel):
    system: str
    code: str
    similar: list[dict] = Field(description="system, code, title, billable, score, reasons, variants, url")


class ChildrenOut(BaseModel):
    system: str
    code: str
    children: list[dict] = Field(description="system, code, label, title, billable, kind, url")


ERRORS = {400: {"model": ErrorBody, "description": "bad parameter"},
          404: {"model": ErrorBody, "description": "unknown code or system"},
          422: {"model": ErrorBody, "description": "parameter of the wrong type"}}


def create_app(settings: Settings | None = None, engine: SearchEngine | None = None) -> FastAPI:
    settings = settings or Settings.from_env()
    engine = engine or SearchEngine.open(settings)
    similar_data(engine.store)  # load the Similar Codes tables now, so no request pays for it
    app = FastAPI(title="medcodes", version="0.1.0", description=DESCRIPTION, openapi_tags=TAGS,
                  docs_url=None, redoc_url=None)
    app.state.engine, app.state.settings = engine, settings
    install_error_handlers(app)
    install_docs(app)
    add_api_routes(app, engine, settings)
    app.include_router(fhir.router(engine, settings), prefix="/fhir", tags=["fhir"])
    app.include_router(pages.router(engine, settings))
    app.mount("/static", StaticFiles(directory=str(pages.WEB / "static")), name="static")
    return app


def add_api_routes(app: FastAPI, engine: SearchEngine, settings: Settings) -> None:
    store = engine.store

    @app.get("/health", tags=["service"], summary="Liveness and the loaded index")
    def health():
        m = store.manifest
        return {"status": "ok", "model": m["model"]["name"], "codes": m["counts"]["codes"],
                "systems": list(store.systems), "built_at": m.get("built_at")}

    @app.get("/api/systems", tags=["service"], summary="Loaded code systems with version, source, licence and counts")
    def systems():
        return {"systems": [{**{k: info.get(k, "") for k in ("name", "title", "version", "source", "licence",
                                                              "fhir_uri")},
                             "counts": info.get("counts", {}),
                             "chapters": [{"code": c["code"], "title": c["title"]}
                                          for c in pages.chapters(engine, name)]}
                            for name, info in store.systems.items()],
                "model": store.manifest["model"], "built_at": store.manifest.get("built_at")}

    @app.get("/api/search", tags=["search"], response_model=SearchOut, responses=ERRORS,
             summary="Ranked search by words or code, with total and paging")
    def search(q: str = Query(..., description="plain words or a code (k922, 0DTJ)"),
               system: str | None = Query(None, description="icd10cm, icd10pcs, ... (default: all)"),
               billable: bool | None = Query(None, description="true: billable codes only"),
               chapter: str | None = Query(None, description="chapter or PCS section code, e.g. 9 or icd10cm:9"),
               limit: int = Query(10, description=f"page size, 1..{settings.max_limit}"),
               offset: int = Query(0, description=f"results to skip, 0..{settings.max_offset}"),
               mode: str = Query("hybrid", description="hybrid, lexical or dense")):
        system, chapter = pages.split_chapter(system, chapter)
        result = engine.search(q, system, billable, chapter, limit, offset, mode)
        return {"query": result.query, "total": result.total, "limit": limit, "offset": offset,
                "next_offset": offset + limit if offset + limit < result.total else None,
                "took_ms": result.took_ms, "mode": result.mode,
                "did_you_mean": getattr(result, "did_you_mean", None),
                "expansions": list(getattr(result, "expansions", ())),
                "results": [hit_dict(h) for h in result.hits]}

    @app.get("/api/suggest", tags=["search"], response_model=SuggestOut, responses=ERRORS,
             summary="Completions of a partial word or code, for search-as-you-type")
    def suggest(q: str = Query(..., description="what has been typed so far"),
                system: str | None = Query(None, description="icd10cm, icd10pcs, ... (default: all)"),
                limit: int = Query(10, description=f"1..{settings.max_limit}")):
        hits = engine.suggest(q, system, limit)
        return {"query": q, "suggestions": [hit_dict(h) for h in hits]}

    @app.get("/api/codes/{system}/{code}", tags=["codes"], responses=ERRORS,
             summary="The full code record as on its page: official content, hierarchy, notes, generated text")
    def code_record(system: str, code: str):
        return pages.code_detail(engine, system, code)

    @app.get("/api/codes/{system}/{code}/children", tags=["codes"], response_model=ChildrenOut, responses=ERRORS,
             summary="The codes one level below this one")
    def children(system: str, code: str):
        record = existing(engine, system, code)
        return {"system": system, "code": record.code,
                "children": [pages.row_dict(r) for r in store.children(system, record.code)]}

    @app.get("/api/codes/{system}/{code}/similar", tags=["codes"], response_model=SimilarOut, responses=ERRORS,
             summary="Similar Codes, each with the reasons it is similar")
    def similar(system: str, code: str, limit: int = Query(10, description=f"1..{settings.max_limit}")):
        record = existing(engine, system, code)
        found = similar_codes(engine, system, record.code, limit)
        return {"system": system, "code": record.code,
                "similar": [s.to_dict() | {"url": pages.code_url(s.system, s.code)} for s in found]}


def existing(engine: SearchEngine, system: str, code: str):
    pages.check_code_path(engine, system, code)
    record = engine.store.record(system, code)
    if record is None:
        raise UnknownCode(f"there is no code {code!r} in {system} in this index")
    return record


def hit_dict(hit) -> dict:
    return {"system": hit.system, "code": hit.code, "title": hit.title, "billable": hit.billable,
            "kind": hit.kind, "chapter": hit.chapter, "score": hit.score, "reasons": list(hit.reasons),
            "url": pages.code_url(hit.system, hit.code)}


def install_docs(app: FastAPI) -> None:
    """Swagger UI from the swagger-ui-bundle package when installed (works offline), else FastAPI's CDN page."""
    try:
        from swagger_ui_bundle import swagger_ui_path
        assets = Path(str(swagger_ui_path))
    except ImportError:
        assets = None
    if assets is not None and (assets / "swagger-ui-bundle.js").exists():
        app.mount("/docs-assets", StaticFiles(directory=str(assets)), name="docs-assets")
        urls = {"swagger_js_url": "/docs-assets/swagger-ui-bundle.js",
                "swagger_css_url": "/docs-assets/swagger-ui.css",
                "swagger_favicon_url": "/docs-assets/favicon-32x32.png"}
    else:
        urls = {}

    @app.get("/docs", include_in_schema=False)
    def docs():
        return get_swagger_ui_html(openapi_url="/openapi.json", title="medcodes API", **urls)


def _error(request: Request, status: int, error: str, message: str):
    """One error body per part of the site: OperationOutcome under /fhir, HTML for pages, JSON elsewhere."""
    path = request.url.path
    if path == "/fhir" or path.startswith("/fhir/"):
        return fhir.outcome(status, fhir.ISSUE_CODES.get(error, "processing"), message)
    if not path.startswith(("/api/", "/health", "/openapi", "/docs", "/static/")):
        titles = {400: "Bad request", 404: "Page not found", 405: "Method not allowed", 422: "Bad request"}
        return pages.error_page(request, status, titles.get(status, "Error"), message)
    return JSONResponse({"error": error, "message": message}, status_code=status)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(QueryError)
    async def bad_query(request: Request, exc: QueryError):
        return _error(request, 400, "bad_request", str(exc))

    @app.exception_handler(UnknownCode)
    async def unknown_code(request: Request, exc: UnknownCode):
        return _error(request, 404, "not_found", str(exc))

    @app.exception_handler(fhir.FhirError)
    async def fhir_error(_request: Request, exc: fhir.FhirError):
        return fhir.outcome(exc.status, exc.code, exc.message)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        problems = [f"{'.'.join(str(p) for p in e.get('loc', ()) if p not in ('query', 'path'))}: {e.get('msg', '')}"
                    for e in exc.errors()]
        return _error(request, 422, "validation", "invalid parameter: " + "; ".join(problems))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        messages = {404: f"nothing at {request.url.path[:100]}", 405: f"{request.method} is not allowed here"}
        error = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return _error(request, exc.status_code, error, messages.get(exc.status_code, str(exc.detail)))

    @app.exception_handler(Exception)
    async def internal(request: Request, _exc: Exception):
        return _error(request, 500, "internal", "internal error")
