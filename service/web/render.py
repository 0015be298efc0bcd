"""Template rendering for the site: the Jinja environment, highlighting of matched words and linked code references."""
from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape

from service.search.query import STEM, STOPWORDS
from service.web.urls import code_url
from service.web.views import semantic_status

WEB = Path(__file__).parent
_CODE_REF = re.compile(r"\b([A-Z][0-9][0-9A-Z](?:\.[0-9A-Z]{1,4})?)(\.-)?")
_TOKEN = re.compile(r"[A-Za-z0-9]+")
# Names of code systems that crosswalks point to but the index does not load.
# A result's 7th-character siblings are listed in full up to this many, and folded in a <details> beyond.
FOLD_INLINE = 3
OTHER_SYSTEMS = {"icd9cm": "ICD-9-CM", "icd9pcs": "ICD-9-CM procedures"}
# Pages load only their own script and stylesheet; nothing inline, nothing from other hosts.
PAGE_HEADERS = {"Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'"}


def query_words(query: str) -> list[str]:
    return [w for w in (t.lower() for t in _TOKEN.findall(query or "")) if len(w) > 1 and w not in STOPWORDS]


def word_matches(token: str, words: list[str]) -> bool:
    """Same rule as the search page's script: a word typed as a prefix, or the same first STEM letters."""
    token = token.lower()
    return any(token.startswith(w) or (len(w) >= STEM and token[:STEM] == w[:STEM]) for w in words)


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


def variant_summary(variants) -> str:
    """A long sibling list in a line ('also S72.041 and 7th characters B, C, D'); search.js writes the same."""
    heads = [v.code for v in variants if len(v.code.replace(".", "")) < 7]
    sevenths = [v.code[-1] for v in variants if len(v.code.replace(".", "")) == 7]
    told = heads + ([("7th character " if len(sevenths) == 1 else "7th characters ") + ", ".join(sevenths)]
                    if sevenths else [])
    return "also " + " and ".join(told)


@lru_cache(maxsize=1)
def make_templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(WEB / "templates"))
    templates.env.filters["highlight"] = highlight
    templates.env.globals["code_url"] = code_url
    templates.env.globals["variant_summary"] = variant_summary
    templates.env.globals["FOLD_INLINE"] = FOLD_INLINE
    return templates


def render(request: Request, name: str, status: int = 200, headers: dict | None = None, **context: Any) -> HTMLResponse:
    """A page with the site's common context (loaded systems and their titles) and its security headers."""
    systems = request.app.state.engine.store.systems

    def system_title(system: str) -> str:
        return systems[system].get("title", system) if system in systems else OTHER_SYSTEMS.get(system, system)

    context.setdefault("systems", systems)
    context.setdefault("warming", semantic_status(request.app.state.engine))
    context.setdefault("system_title", system_title)
    context.setdefault("systems_titles", {n: info.get("title", n) for n, info in systems.items()})
    return make_templates().TemplateResponse(request, name, context, status_code=status,
                                             headers={**PAGE_HEADERS, **(headers or {})})
