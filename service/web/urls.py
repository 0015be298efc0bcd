"""Every URL the site and the API hand out, built in one place."""
from __future__ import annotations

from urllib.parse import quote, urlencode

STATIC = "/static"
DOCS_ASSETS = "/docs-assets"


def code_url(system: str, code: str) -> str:
    return f"/codes/{quote(system, safe='')}/{quote(code, safe='')}"


def search_url(params: dict) -> str:
    """The search page for these parameters (q, system, billable, chapter, offset)."""
    return "/?" + urlencode(params)


def static_url(name: str) -> str:
    return f"{STATIC}/{name}"
