"""FastAPI app factory, the JSON REST API and response headers; errors are 4xx with a message, never tracebacks."""
from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote_to_bytes

from fastapi import Depends, FastAPI, Path as PathParam, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.cors import CORSMiddleware

from embeddings.settings import Settings
from service.web.fhir import routes as fhir
from service.web import pages
from service.web.models import ERRORS, ChildrenOut, CodeRecordOut, SearchOut, SimilarOut, SuggestOut
from service.search.engine import MODES, SearchEngine
from service.similar.data import similar_data
from service.errors import QueryError, UnknownCode, no_such_code
from service.similar.rank import similar_codes

DESCRIPTION = """Search ICD-10-CM and ICD-10-PCS codes in plain language, read code records and Similar Codes.

Errors are JSON `{"error": ..., "message": ...}`: 400 for a bad parameter (empty or over-long query, unknown
system or chapter, limit out of range, bytes that are not UTF-8), 404 for an unknown code, 422 for a parameter of
the wrong type. FHIR R4 terminology operations live under `/fhir` (see `/fhir/metadata`); their errors are
OperationOutcome resources. Every response is read-only public data: any origin may read it (CORS `*`, no
credentials)."""
TAGS = [{"name": "search", "description": "Ranked search and typeahead"},
        {"name": "codes", "description": "Code records, hierarchy and Similar Codes"},
        {"name": "service", "description": "Loaded code systems and health"},
        {"name": "fhir", "description": "FHIR R4 terminology operations (application/fhir+json)"}]


# Set on every response; pages add their own Content-Security-Policy, data responses get one that allows nothing.
BASE_HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin", "X-Frame-Options": "DENY"}
DATA_CSP = "default-src 'none'; frame-ancestors 'none'"
# FastAPI's Swagger UI page starts itself with an inline script; the bundle it loads is served from this site.
DOCS_CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data:; frame-ancestors 'none'")
CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9.\-]{0,31}$"


def create_app(settings: Settings | None = None, engine: SearchEngine | None = None) -> FastAPI:
    settings = settings or Settings.from_env()
    engine = engine or SearchEngine.open(settings)
    similar_data(engine.store)  # load the Similar Codes tables now, so no request pays for it
    app = FastAPI(title="medcodes", version="0.1.0", description=DESCRIPTION, openapi_tags=TAGS,
                  docs_url=None, redoc_url=None, dependencies=[Depends(readable_request)])
    app.state.engine, app.state.settings = engine, settings
    install_error_handlers(app)
    local_docs = install_docs(app)
    add_api_routes(app, engine, settings)
    app.include_router(fhir.router(engine, settings), prefix="/fhir", tags=["fhir"])
    app.include_router(pages.router(engine, settings))
    app.mount("/static", StaticFiles(directory=str(pages.WEB / "static")), name="static")
    app.add_middleware(CORSMiddleware, allow_origins=["*"], allow_methods=["GET", "POST"],
                       allow_headers=["Content-Type", "Accept"], max_age=600)
    app.add_middleware(SecurityHeaders, docs_csp=DOCS_CSP if local_docs else None)
    return app


def readable_request(request: Request) -> None:
    """Percent-encoded bytes that are not UTF-8 (%ff) are a 400, not text silently turned into U+FFFD."""
    scope = request.scope
    for part, raw in (("path", scope.get("raw_path") or b""), ("query", scope.get("query_string") or b"")):
        try:
            unquote_to_bytes(raw).decode("utf-8")
        except UnicodeDecodeError:
            raise QueryError(f"the request {part} has percent-encoded bytes that are not UTF-8 text (such as %ff); "
                             "send text as UTF-8") from None


class SecurityHeaders:
    """ASGI middleware adding BASE_HEADERS to every response and a Content-Security-Policy where none is set."""

    def __init__(self, app, docs_csp: str | None = None):
        self.app, self.docs_csp = app, docs_csp

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in BASE_HEADERS.items():
                    headers.setdefault(name, value)
                if scope["path"] == "/docs":
                    if self.docs_csp:
                        headers.setdefault("Content-Security-Policy", self.docs_csp)
                elif not headers.get("content-type", "").startswith("text/html"):
                    headers.setdefault("Content-Security-Policy", DATA_CSP)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def add_api_routes(app: FastAPI, engine: SearchEngine, settings: Settings) -> None:
    store = engine.store
    groups = {name: pages.chapters(engine, name) for name in store.systems}
    systems_enum = {"enum": ["", "all", *store.systems]}  # empty or all: every system
    limit_schema = {"minimum": 1, "maximum": settings.max_limit}
    query_schema = {"minLength": 1, "maxLength": settings.max_query_chars}
    system_path = PathParam(description="a loaded code system", json_schema_extra={"enum": list(store.systems)})
    code_path = PathParam(description="a code, with or without its dot (K92.2, k922, 0FT44ZZ)",
                          json_schema_extra={"pattern": CODE_PATTERN})

    @app.get("/health", tags=["service"], summary="Liveness and the loaded index")
    def health():
        m = store.manifest
        return {"status": "ok", "model": m["model"]["name"], "codes": m["counts"]["codes"],
                "systems": list(store.systems), "built_at": m.get("built_at")}

    @app.get("/api/systems", tags=["service"], summary="Loaded code systems with version, source, licence and counts")
    def systems():
        return {"systems": [{**{k: info.get(k, "") for k in ("name", "title", "version", "source", "licence")},
                             "fhir_uri": fhir.system_uri(name, info), "counts": info.get("counts", {}),
                             "chapters": [{"code": c["code"], "title": c["title"]} for c in groups[name]]}
                            for name, info in store.systems.items()],
                "model": store.manifest["model"], "built_at": store.manifest.get("built_at")}

    @app.get("/api/search", tags=["search"], response_model=SearchOut, responses=ERRORS,
             summary="Ranked search by words or code, with total and paging")
    def search(q: str = Query(..., description="plain words or a code (k922, 0DTJ)", json_schema_extra=query_schema),
               system: str | None = Query(None, description="icd10cm, icd10pcs, ...; empty or all: every system",
                                          json_schema_extra=systems_enum),
               billable: bool | None = Query(None, description="true: billable codes only"),
               chapter: str | None = Query(None, description="chapter or PCS section code, e.g. 9 or icd10cm:9"),
               limit: int = Query(10, description=f"page size, 1..{settings.max_limit}", json_schema_extra=limit_schema),
               offset: int = Query(0, description=f"results to skip, 0..{settings.max_offset}",
                                   json_schema_extra={"minimum": 0, "maximum": settings.max_offset}),
               mode: str = Query("hybrid", description="hybrid, lexical or dense", json_schema_extra={"enum": MODES})):
        system, chapter = pages.resolve_chapter(groups, system, chapter)
        result = engine.search(q, system, billable, chapter, limit, offset, mode)
        return {"query": result.query, "total": result.total, "limit": limit, "offset": offset,
                "next_offset": offset + limit if offset + limit < result.total else None,
                "took_ms": result.took_ms, "mode": result.mode,
                "did_you_mean": getattr(result, "did_you_mean", None),
                "expansions": list(getattr(result, "expansions", ())),
                "results": [hit_dict(h) for h in result.hits]}

    @app.get("/api/suggest", tags=["search"], response_model=SuggestOut, responses=ERRORS,
             summary="Completions of a partial word or code, for search-as-you-type")
    def suggest(q: str = Query(..., description="what has been typed so far", json_schema_extra=query_schema),
                system: str | None = Query(None, description="icd10cm, icd10pcs, ...; empty or all: every system",
                                           json_schema_extra=systems_enum),
                limit: int = Query(10, description=f"1..{settings.max_limit}", json_schema_extra=limit_schema)):
        hits = engine.suggest(q, system, limit)
        return {"query": q, "suggestions": [hit_dict(h) for h in hits]}

    @app.get("/api/codes/{system}/{code}", tags=["codes"], response_model=CodeRecordOut, responses=ERRORS,
             summary="The full code record as on its page: official content, hierarchy, notes, labelled other text")
    def code_record(system: str = system_path, code: str = code_path):
        return pages.code_detail(engine, system, code)

    @app.get("/api/codes/{system}/{code}/children", tags=["codes"], response_model=ChildrenOut, responses=ERRORS,
             summary="The codes one level below this one")
    def children(system: str = system_path, code: str = code_path):
        record = existing(engine, system, code)
        return {"system": system, "code": record.code,
                "children": [pages.row_dict(r) for r in store.children(system, record.code)]}

    @app.get("/api/codes/{system}/{code}/similar", tags=["codes"], response_model=SimilarOut, responses=ERRORS,
             summary="Similar Codes, each with the reasons it is similar")
    def similar(system: str = system_path, code: str = code_path,
                limit: int = Query(10, description=f"1..{settings.max_limit}", json_schema_extra=limit_schema)):
        record = existing(engine, system, code)
        found = similar_codes(engine, system, record.code, limit)
        return {"system": system, "code": record.code,
                "similar": [s.to_dict() | {"url": pages.code_url(s.system, s.code)} for s in found]}


def existing(engine: SearchEngine, system: str, code: str):
    pages.check_code_path(engine, system, code)
    record = engine.store.record(system, code)
    if record is None:
        raise no_such_code(system, code)
    return record


def hit_dict(hit) -> dict:
    return {"system": hit.system, "code": hit.code, "title": hit.title, "billable": hit.billable,
            "kind": hit.kind, "chapter": hit.chapter, "score": hit.score, "reasons": list(hit.reasons),
            "url": pages.code_url(hit.system, hit.code)}


def install_docs(app: FastAPI) -> bool:
    """Swagger UI from the swagger-ui-bundle package when installed (works offline, True), else FastAPI's CDN page."""
    try:
        from swagger_ui_bundle import swagger_ui_path
        assets = Path(str(swagger_ui_path))
    except ImportError:
        assets = None
    local = assets is not None and (assets / "swagger-ui-bundle.js").exists()
    if local:
        app.mount("/docs-assets", StaticFiles(directory=str(assets)), name="docs-assets")
        urls = {"swagger_js_url": "/docs-assets/swagger-ui-bundle.js",
                "swagger_css_url": "/docs-assets/swagger-ui.css",
                "swagger_favicon_url": "/docs-assets/favicon-32x32.png"}
    else:
        urls = {}

    @app.get("/docs", include_in_schema=False)
    def docs():
        return get_swagger_ui_html(openapi_url="/openapi.json", title="medcodes API", **urls)

    return local


def _error(request: Request, status: int, error: str, message: str, headers: dict | None = None):
    """One error body per part of the site: OperationOutcome under /fhir, HTML for pages, JSON elsewhere."""
    path = request.url.path
    if path == "/fhir" or path.startswith("/fhir/"):
        return fhir.outcome(status, fhir.ISSUE_CODES.get(error, "processing"), message, headers)
    if not path.startswith(("/api/", "/health", "/openapi", "/docs", "/static/")):
        titles = {400: "Bad request", 404: "Page not found", 405: "Method not allowed", 422: "Bad request"}
        return pages.error_page(request, status, titles.get(status, "Error"), message, headers)
    return JSONResponse({"error": error, "message": message}, status_code=status, headers=headers)


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
        return _error(request, 422, "validation", "invalid parameter: " + "; ".join(problems)[:1000])

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        messages = {404: f"nothing at {request.url.path[:100]}", 405: f"{request.method} is not allowed here"}
        error = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return _error(request, exc.status_code, error, messages.get(exc.status_code, str(exc.detail)),
                      getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def internal(request: Request, _exc: Exception):
        return _error(request, 500, "internal", "internal error")
