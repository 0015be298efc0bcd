"""FastAPI app factory: JSON API routes that call the search engine; errors are JSON 4xx, never tracebacks."""
from __future__ import annotations

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from embeddings.settings import Settings
from service.engine import SearchEngine
from service.query import QueryError
from service.similar import UnknownCode, similar_codes


def create_app(settings: Settings | None = None, engine: SearchEngine | None = None) -> FastAPI:
    settings = settings or Settings.from_env()
    engine = engine or SearchEngine.open(settings)
    app = FastAPI(title="medcodes", version="0.1.0",
                  description="Search ICD-10-CM and ICD-10-PCS codes in plain language.")
    app.state.engine = engine

    @app.exception_handler(QueryError)
    async def bad_query(_request: Request, exc: QueryError):
        return JSONResponse({"error": "bad_request", "message": str(exc)}, status_code=400)

    @app.exception_handler(UnknownCode)
    async def unknown_code(_request: Request, exc: UnknownCode):
        return JSONResponse({"error": "not_found", "message": str(exc)}, status_code=404)

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError):
        details = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", "")} for e in exc.errors()]
        return JSONResponse({"error": "validation", "message": "invalid request parameters", "details": details},
                            status_code=422)

    @app.exception_handler(Exception)
    async def internal(_request: Request, _exc: Exception):
        return JSONResponse({"error": "internal", "message": "internal error"}, status_code=500)

    @app.get("/health")
    def health():
        m = engine.store.manifest
        return {"status": "ok", "model": m["model"]["name"], "codes": m["counts"]["codes"],
                "built_at": m.get("built_at")}

    @app.get("/api/search")
    def search(q: str = Query(..., description="words or a code"), system: str | None = None,
               billable: bool | None = None, chapter: str | None = None,
               limit: int = Query(10, description="page size"), offset: int = Query(0, description="results to skip"),
               mode: str = Query("hybrid", description="hybrid, lexical or dense")):
        result = engine.search(q, system, billable, chapter, limit, offset, mode)
        return {"query": result.query, "total": result.total, "limit": limit, "offset": offset,
                "took_ms": result.took_ms, "results": [hit_dict(h) for h in result.hits]}

    @app.get("/api/codes/{system}/{code}")
    def code_record(system: str, code: str):
        engine.check_system(system)
        record = engine.store.record(system, code)
        if record is None:
            raise UnknownCode(f"{code!r} is not a {system} code in this index")
        return record.to_dict()

    @app.get("/api/codes/{system}/{code}/similar")
    def similar(system: str, code: str, limit: int = 10):
        return {"system": system, "code": code,
                "similar": [s.to_dict() for s in similar_codes(engine, system, code, limit)]}

    return app


def hit_dict(hit) -> dict:
    return {"system": hit.system, "code": hit.code, "title": hit.title, "billable": hit.billable,
            "kind": hit.kind, "chapter": hit.chapter, "score": hit.score, "reasons": list(hit.reasons)}
