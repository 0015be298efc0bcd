"""The server-rendered site: the search page and the code page (HTML views of the same data as the API)."""
from __future__ import annotations

import re

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from service.errors import QueryError, UnknownCode
from service.search.codelist import missing_system_hint
from service.similar.rank import similar_codes
from service.web.deps import EngineDep, GroupsDep, SystemDep
from service.web.render import highlight_words, link_codes, note_code_refs, render
from service.web.urls import search_url
from service.web.views import code_detail, resolve_chapter

PAGE_SIZE = 20
SIMILAR_ON_PAGE = 10
_OFFSET = re.compile(r"[0-9]{1,9}")  # ASCII digits only: '²', '--5' and a thousand digits are refused, not crashed on

router = APIRouter(include_in_schema=False)


def parse_offset(raw: str) -> int:
    text = raw.strip()
    if not _OFFSET.fullmatch(text):
        raise QueryError(f"offset must be a whole number from 0, got {raw[:20]!r}")
    return int(text)


@router.get("/", response_class=HTMLResponse)
def search_page(request: Request, engine: EngineDep, groups: GroupsDep, q: str = "", system: str = "",
                billable: str = "", chapter: str = "", offset: str = "0") -> HTMLResponse:
    form = {"q": q, "system": system, "billable": billable.lower() in ("1", "true", "on", "yes"), "chapter": chapter}
    context = {"form": form, "chapters": groups, "result": None, "error": None, "completions": [],
               "broader": [], "page_size": PAGE_SIZE}
    if not q.strip():
        return render(request, "search.html", **context)
    try:
        start = parse_offset(offset)
        sys_name, chap = resolve_chapter(groups, system or None, chapter)
        result = engine.search(q, sys_name, form["billable"] or None, chap, PAGE_SIZE, start)
    except QueryError as exc:
        return render(request, "search.html", status=400, **{**context, "error": str(exc)})
    context["result"] = result
    context["did_you_mean"] = result.did_you_mean
    context["expansions"] = list(result.expansions)
    context["marked"] = highlight_words(q, result.did_you_mean, result.expansions)
    context["next_url"] = (search_url({**_filters(form), "offset": start + PAGE_SIZE})
                           if start + PAGE_SIZE < result.total else None)
    if not result.hits:
        context["hint"] = missing_system_hint(engine.store.systems, result)
        context["completions"] = engine.suggest(q, sys_name, 10)
        context["broader"] = broader_searches(form, result.query)
    return render(request, "search.html", **context)


@router.get("/codes/{system}/{code}", response_class=HTMLResponse)
def code_page(request: Request, engine: EngineDep, system: SystemDep, code: str) -> HTMLResponse:
    try:
        detail = code_detail(engine, system, code)
    except UnknownCode as exc:
        return render(request, "not_found.html", status=404, message=str(exc), code=code, system=system)
    except QueryError as exc:
        return render(request, "error.html", status=400, title="Not a code", message=str(exc))
    similar = similar_codes(engine, system, detail["code"], SIMILAR_ON_PAGE)
    known = set(engine.store.records(system, note_code_refs(detail)))
    return render(request, "code.html", c=detail, similar=similar,
                  link_codes=lambda text: link_codes(text, system, known))


def _filters(form: dict) -> dict:
    out = {"q": form["q"]}
    if form["system"]:
        out["system"] = form["system"]
    if form["billable"]:
        out["billable"] = "true"
    if form["chapter"]:
        out["chapter"] = form["chapter"]
    return out


def broader_searches(form: dict, query: str) -> list[dict]:
    """Links for a search that found nothing: drop each filter in turn, then search with fewer words."""
    base = _filters(form)
    out = []
    for key, label in (("billable", "include non-billable codes"), ("chapter", "search every chapter"),
                       ("system", "search every code system")):
        if key in base:
            out.append({"label": label, "url": search_url({k: v for k, v in base.items() if k != key})})
    words = query.split()
    if len(words) > 1:
        shorter = " ".join(words[:-1])
        out.append({"label": f"search for “{shorter}”", "url": search_url({**base, "q": shorter})})
    return out


def error_page(request: Request, status: int, title: str, message: str, headers: dict | None = None) -> HTMLResponse:
    """HTML error page for site paths (unknown route, bad method); the API and FHIR paths answer in their formats."""
    return render(request, "error.html", status=status, headers=headers, title=title, message=message)
