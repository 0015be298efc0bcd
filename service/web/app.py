"""The app factory: state, error handlers, docs, routers and security headers; errors are 4xx with a message."""
from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote_to_bytes

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.cors import CORSMiddleware
from swagger_ui_bundle import swagger_ui_path

from embeddings.settings import Settings
from service import VERSION
from service.errors import QueryError, UnknownCode
from service.search.engine import SearchEngine
from service.similar.data import similar_data
from service.web import api, ctss, pages
from service.web.fhir import batch as fhir_batch
from service.web.fhir import routes as fhir_routes
from service.web.fhir.params import ISSUE_CODES, FhirError, outcome
from service.web.fhir.terminology import Terminology
from service.web.render import WEB
from service.web.urls import DOCS_ASSETS, STATIC
from service.web.views import chapters

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


def create_app(settings: Settings | None = None, engine: SearchEngine | None = None) -> FastAPI:
    """The app over one opened index: state, error handlers, docs, routers and middleware; nothing else."""
    settings = settings or Settings.from_env()
    engine = engine or SearchEngine.open(settings)
    similar_data(engine.store)  # load the Similar Codes tables now, so no request pays for it
    app = FastAPI(title="medcodes", version=VERSION, description=DESCRIPTION, openapi_tags=TAGS,
                  docs_url=None, redoc_url=None, dependencies=[Depends(readable_request)])
    app.state.engine, app.state.settings = engine, settings
    app.state.groups = {name: chapters(engine, name) for name in engine.store.systems}
    app.state.terminology = Terminology(engine, settings)
    install_error_handlers(app)
    install_docs(app)
    app.include_router(api.router)
    app.include_router(ctss.router)
    app.include_router(fhir_routes.router, prefix="/fhir", tags=["fhir"])
    app.include_router(fhir_batch.router, prefix="/fhir", tags=["fhir"])
    app.include_router(pages.router)
    app.mount(STATIC, StaticFiles(directory=str(WEB / "static")), name="static")
    app.add_middleware(CORSMiddleware, allow_origins=["*"], allow_methods=["GET", "POST"],
                       allow_headers=["Content-Type", "Accept"], max_age=600)
    app.add_middleware(SecurityHeaders, index=engine.store.directory.name)
    document_loaded(app, settings, list(engine.store.systems))
    return app


async def readable_request(request: Request) -> None:
    """Percent-encoded bytes that are not UTF-8 (%ff) are a 400, not text silently turned into U+FFFD."""
    scope = request.scope
    for part, raw in (("path", scope.get("raw_path") or b""), ("query", scope.get("query_string") or b"")):
        try:
            unquote_to_bytes(raw).decode("utf-8")
        except UnicodeDecodeError:
            raise QueryError(f"the request {part} has percent-encoded bytes that are not UTF-8 text (such as %ff); "
                             "send text as UTF-8") from None


class SecurityHeaders:
    """ASGI middleware adding BASE_HEADERS to every response and a Content-Security-Policy where none is set.

    `X-Medcodes-Index` names the build that answered, so a client (or a test) can tell which index it read."""

    def __init__(self, app, index: str = ""):
        self.app = app
        self.index = index

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in BASE_HEADERS.items():
                    headers.setdefault(name, value)
                headers.setdefault("X-Medcodes-Index", self.index)
                if scope["path"] == "/docs":
                    headers.setdefault("Content-Security-Policy", DOCS_CSP)
                elif not headers.get("content-type", "").startswith("text/html"):
                    headers.setdefault("Content-Security-Policy", DATA_CSP)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def document_loaded(app: FastAPI, settings: Settings, systems: list[str]) -> None:
    """Write what this server loaded and allows into its OpenAPI (system enums and the configured limits) when
    the schema is first asked for: made at start, it would add a sixth of a second to every worker's start."""
    make = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            _describe_loaded(make(), settings, systems)
        return app.openapi_schema or make()

    app.openapi = openapi  # type: ignore[method-assign]


def _describe_loaded(schema: dict, settings: Settings, systems: list[str]) -> None:
    for path in schema.get("paths", {}).values():
        for operation in path.values():
            for param in operation.get("parameters", []) if isinstance(operation, dict) else []:
                extra = param.setdefault("schema", {})
                if param["name"] == "system":
                    extra["enum"] = list(systems) if param["in"] == "path" else ["", "all", *systems]
                elif param["name"] == "limit":
                    extra["maximum"] = settings.max_limit
                elif param["name"] == "q":
                    extra["maxLength"] = settings.max_query_chars
                elif param["name"] == "offset" and "maximum" in extra and extra["maximum"] == api.DEFAULTS.max_offset:
                    extra["maximum"] = settings.max_offset


def install_docs(app: FastAPI) -> None:
    """Swagger UI from the swagger-ui-bundle package (a runtime dependency): the docs work offline."""
    assets = Path(str(swagger_ui_path))
    app.mount(DOCS_ASSETS, StaticFiles(directory=str(assets)), name="docs-assets")
    urls = {"swagger_js_url": f"{DOCS_ASSETS}/swagger-ui-bundle.js", "swagger_css_url": f"{DOCS_ASSETS}/swagger-ui.css",
            "swagger_favicon_url": f"{DOCS_ASSETS}/favicon-32x32.png"}

    @app.get("/docs", include_in_schema=False)
    def docs():
        return get_swagger_ui_html(openapi_url="/openapi.json", title="medcodes API", **urls)


def _error(request: Request, status: int, error: str, message: str, headers: dict | None = None):
    """One error body per part of the site: OperationOutcome under /fhir, HTML for pages, JSON elsewhere."""
    path = request.url.path
    if path == "/fhir" or path.startswith("/fhir/"):
        return outcome(status, ISSUE_CODES.get(error, "processing"), message, headers)
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

    @app.exception_handler(FhirError)
    async def fhir_error(_request: Request, exc: FhirError):
        return outcome(exc.status, exc.code, exc.message)

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
