"""The code-page model shared by the API and the site, and the server-rendered HTML routes (search page, code page)."""
from __future__ import annotations

import re
from dataclasses import asdict
from functools import lru_cache
from pathlib import Path
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape

from embeddings.records import NOTE_LABELS
from service.web.descriptions import blocks, describe, pack_label
from service.web.fhir.terminology import system_uri
from service.errors import QueryError, UnknownCode, no_such_code
from service.search.query import STOPWORDS
from service.similar.rank import crosswalks, similar_codes

WEB = Path(__file__).parent
PAGE_SIZE = 20
SIMILAR_ON_PAGE = 10
_CODE_PATH = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.\-]{0,31}$")
_CODE_REF = re.compile(r"\b([A-Z][0-9][0-9A-Z](?:\.[0-9A-Z]{1,4})?)(\.-)?")
_TOKEN = re.compile(r"[A-Za-z0-9]+")
ROOT_LABELS = {"chapter": "Chapter", "section": "Section"}
# Names of code systems that crosswalks point to but the index does not load.
OTHER_SYSTEMS = {"icd9cm": "ICD-9-CM"}
# Pages load only their own script and stylesheet; nothing inline, nothing from other hosts.
PAGE_HEADERS = {"Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
                "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin"}


# -- the code-page model (also the body of GET /api/codes/{system}/{code}) ----------------------------
def code_url(system: str, code: str) -> str:
    return f"/codes/{quote(system, safe='')}/{quote(code, safe='')}"


def check_code_path(engine, system: str, code: str) -> None:
    """Unknown system -> UnknownCode (404); a code that cannot be a code (spaces, symbols, too long) -> QueryError (400)."""
    if system not in engine.store.systems:
        raise UnknownCode(f"no code system named {system[:40]!r}; loaded systems: {', '.join(engine.store.systems)}")
    if not _CODE_PATH.match(code):
        raise QueryError(f"{code[:40]!r} is not a valid code: use letters, digits, '.' or '-' (at most 32 characters)")


def display_code(kind: str, code: str) -> str:
    return f"{ROOT_LABELS[kind]} {code}" if kind in ROOT_LABELS else code


def row_dict(row) -> dict:
    """A catalogue row as a linked list item."""
    return {"system": row.system, "code": row.code, "label": display_code(row.kind, row.code), "title": row.title,
            "billable": row.billable, "kind": row.kind, "url": code_url(row.system, row.code)}


def chapters(engine, system: str) -> list[dict]:
    """Top-level groups of a system (ICD-10-CM chapters, ICD-10-PCS sections): the values of the chapter filter."""
    return [row_dict(r) for r in engine.store.children(system, "")]


def content_dict(entry) -> dict | None:
    """A content pack's sections for the page and the API, each with display blocks, labelled with the pack."""
    if entry is None or not entry.sections:
        return None
    return {"source": entry.source, "label": pack_label(entry.source), "official": False,
            "sections": [{"name": name, "text": text, "blocks": blocks(text)} for name, text in entry.sections]}


def code_detail(engine, system: str, code: str) -> dict:
    """Everything the code page shows except Similar Codes: official record, hierarchy, notes, labelled other text."""
    check_code_path(engine, system, code)
    store = engine.store
    record = store.record(system, code)
    if record is None:
        raise no_such_code(system, code)
    parents = store.records(system, list(record.parents))
    breadcrumbs = [{"code": p, "label": display_code(parents[p].kind, p) if p in parents else p,
                    "title": parents[p].title if p in parents else "", "url": code_url(system, p)}
                   for p in record.parents]
    groups = [{"kind": kind, "label": label, "notes": record.notes_of(kind)}
              for kind, label in NOTE_LABELS.items() if record.notes_of(kind)]
    info = store.systems[system]
    description = describe(record, store, info.get("title", system))
    links = [asdict(c) | {"url": code_url(c.system, c.code) if c.system in store.systems else None}
             for c in crosswalks(engine, system, record.code)]
    return {**record.to_dict(), "label": display_code(record.kind, record.code), "url": code_url(system, record.code),
            "system_info": {**{k: info.get(k, "") for k in ("name", "title", "version", "source", "licence")},
                            "fhir_uri": system_uri(system, info)},
            "breadcrumbs": breadcrumbs, "children": [row_dict(r) for r in store.children(system, record.code)],
            "note_groups": groups, "seventh_table": [{"character": c, "meaning": m} for c, m in record.seventh],
            "plain_description": description.to_dict() if description else None,
            "content": content_dict(store.content(system, record.code)), "crosswalks": links}


def split_chapter(system: str | None, chapter: str | None) -> tuple[str | None, str | None]:
    """'icd10cm:9' names the system too; a chapter of one system with another system selected is a 400."""
    if not chapter or ":" not in chapter:
        return system, chapter or None
    chapter_system, _, code = chapter.partition(":")
    if not chapter_system or not code:
        raise QueryError(f"chapter {chapter[:40]!r} must be a chapter code (9) or SYSTEM:CODE (icd10cm:9)")
    if system not in (None, "", "all", chapter_system):
        raise QueryError(f"chapter {chapter[:40]!r} belongs to {chapter_system[:20]}, but system {system[:20]!r} "
                         "was asked for")
    return chapter_system, code


def resolve_chapter(groups: dict[str, list[dict]], system: str | None,
                    chapter: str | None) -> tuple[str | None, str | None]:
    """split_chapter, and a chapter that is no top-level group of the system(s) searched is a 400 too."""
    system, chapter = split_chapter(system, chapter)
    if chapter:
        names = [system] if system in groups else list(groups)
        if not any(chapter == group["code"] for name in names for group in groups[name]):
            where = system if system in groups else "any loaded system"
            raise QueryError(f"{chapter[:20]!r} is not a chapter or section of {where}")
    return system, chapter


# -- template helpers -------------------------------------------------------------------------------
def query_words(query: str) -> list[str]:
    return [w for w in (t.lower() for t in _TOKEN.findall(query or "")) if len(w) > 1 and w not in STOPWORDS]


def word_matches(token: str, words: list[str]) -> bool:
    """Same rule as the search page's script: a word typed as a prefix, or the same first five letters."""
    token = token.lower()
    return any(token.startswith(w) or (len(w) >= 5 and token[:5] == w[:5]) for w in words)


def highlight_words(query: str, did_you_mean: str | None = None, expansions=()) -> str:
    """What to highlight: the query, its spelling correction and the formal words of expanded lay terms."""
    return " ".join([query, did_you_mean or "", *(str(e).split("→")[-1] for e in expansions)])


def highlight(title: str, query: str) -> Markup:
    words = query_words(query)
    out, last = [], 0
    for m in _TOKEN.finditer(title):
        if word_matches(m.group(), words):
            out += [escape(title[last:m.start()]), Markup("<mark>"), escape(m.group()), Markup("</mark>")]
            last = m.end()
    out.append(escape(title[last:]))
    return Markup("").join(out)


def note_code_refs(detail: dict) -> list[str]:
    return [m.group(1) for g in detail["note_groups"] for n in g["notes"] for m in _CODE_REF.finditer(n)]


def link_codes(text: str, system: str, known: set[str]) -> Markup:
    """Note text with references to codes of this index ('(K29.01)', 'K57.-') turned into links."""
    out, last = [], 0
    for m in _CODE_REF.finditer(text):
        if m.group(1) in known:
            out += [escape(text[last:m.start()]),
                    Markup('<a href="{}">{}</a>').format(code_url(system, m.group(1)), m.group(0))]
            last = m.end()
    out.append(escape(text[last:]))
    return Markup("").join(out)


@lru_cache(maxsize=1)
def make_templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(WEB / "templates"))
    templates.env.filters["highlight"] = highlight
    templates.env.globals["code_url"] = code_url
    return templates


# -- routes -----------------------------------------------------------------------------------------
def router(engine, settings) -> APIRouter:
    templates = make_templates()
    pages = APIRouter(include_in_schema=False)
    systems = engine.store.systems
    groups = {name: chapters(engine, name) for name in systems}

    def system_title(name: str) -> str:
        return systems[name].get("title", name) if name in systems else OTHER_SYSTEMS.get(name, name)

    def render(request: Request, name: str, status: int = 200, **context) -> HTMLResponse:
        context.setdefault("systems", systems)
        context.setdefault("system_title", system_title)
        context.setdefault("systems_titles", {name: info.get("title", name) for name, info in systems.items()})
        return templates.TemplateResponse(request, name, context, status_code=status, headers=PAGE_HEADERS)

    @pages.get("/", response_class=HTMLResponse)
    def search_page(request: Request, q: str = "", system: str = "", billable: str = "", chapter: str = "",
                    offset: str = "0"):
        form = {"q": q, "system": system, "billable": billable.lower() in ("1", "true", "on", "yes"),
                "chapter": chapter}
        context = {"form": form, "chapters": groups, "result": None, "error": None, "completions": [],
                   "broader": [], "page_size": PAGE_SIZE}
        if not q.strip():
            return render(request, "search.html", **context)
        try:
            start = int(offset) if offset.strip().lstrip("-").isdigit() else None
            if start is None:
                raise QueryError(f"offset must be a whole number, got {offset[:20]!r}")
            sys_name, chap = resolve_chapter(groups, system or None, chapter)
            result = engine.search(q, sys_name, form["billable"] or None, chap, PAGE_SIZE, start)
        except QueryError as exc:
            return render(request, "search.html", status=400, **{**context, "error": str(exc)})
        context["result"] = result
        context["did_you_mean"] = getattr(result, "did_you_mean", None)
        context["expansions"] = list(getattr(result, "expansions", ()))
        context["marked"] = highlight_words(q, context["did_you_mean"], context["expansions"])
        context["next_url"] = ("/?" + urlencode({**_filters(form), "offset": start + PAGE_SIZE})
                               if start + PAGE_SIZE < result.total else None)
        if not result.hits:
            context["completions"] = engine.suggest(q, sys_name, 10)
            context["broader"] = broader_searches(form, result.query)
        return render(request, "search.html", **context)

    @pages.get("/codes/{system}/{code}", response_class=HTMLResponse)
    def code_page(request: Request, system: str, code: str):
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

    return pages


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
            out.append({"label": label, "url": "/?" + urlencode({k: v for k, v in base.items() if k != key})})
    words = query.split()
    if len(words) > 1:
        shorter = " ".join(words[:-1])
        out.append({"label": f"search for “{shorter}”", "url": "/?" + urlencode({**base, "q": shorter})})
    return out


def error_page(request: Request, status: int, title: str, message: str, headers: dict | None = None) -> HTMLResponse:
    """HTML error page for site paths (unknown route, bad method); the API and FHIR paths answer in their formats."""
    templates = make_templates()
    context = {"title": title, "message": message, "systems": request.app.state.engine.store.systems}
    return templates.TemplateResponse(request, "error.html", context, status_code=status,
                                      headers={**PAGE_HEADERS, **(headers or {})})
