"""The data of each view, one dict that both the HTML page and the JSON API render (they cannot disagree)."""
from __future__ import annotations

import re
from dataclasses import asdict
from pathlib import Path

from embeddings.index import progress
from embeddings.index.rows import CodeRow
from embeddings.records import NOTE_LABELS, Code
from service.errors import QueryError, UnknownCode, no_such_code
from service.search.autocode import AutoCode
from service.search.engine import Hit, SearchEngine, SearchResult
from service.similar.rank import crosswalks
from service.web.descriptions import blocks, describe, pack_label
from service.web.fhir.terminology import system_uri
from service.web.urls import code_url
from service.web.validity import check_year, exists_in, known_years, validity

CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9.\-]{0,31}$"
_CODE_PATH = re.compile(CODE_PATTERN)
ROOT_LABELS = {"chapter": "Chapter", "section": "Section"}
INFO_FIELDS = ("name", "title", "version", "source", "licence")


def check_code_path(engine: SearchEngine, system: str, code: str) -> None:
    """Unknown system -> UnknownCode (404); a code that cannot be a code (spaces, symbols, too long) -> QueryError (400)."""
    if system not in engine.store.systems:
        raise UnknownCode(f"no code system named {system[:40]!r}; loaded systems: {', '.join(engine.store.systems)}")
    if not _CODE_PATH.match(code):
        raise QueryError(f"{code[:40]!r} is not a valid code: use letters, digits, '.' or '-' (at most 32 characters)")


def display_code(kind: str, code: str) -> str:
    return f"{ROOT_LABELS[kind]} {code}" if kind in ROOT_LABELS else code


def row_dict(row: CodeRow) -> dict:
    """A catalogue row as a linked list item."""
    return {"system": row.system, "code": row.code, "label": display_code(row.kind, row.code), "title": row.title,
            "billable": row.billable, "kind": row.kind, "url": code_url(row.system, row.code)}


def chapters(engine: SearchEngine, system: str) -> list[dict]:
    """Top-level groups of a system (ICD-10-CM chapters, ICD-10-PCS sections): the values of the chapter filter."""
    return [row_dict(r) for r in engine.store.children(system, "")]


def content_dict(entry) -> dict | None:
    """A content pack's sections for the page and the API, each with display blocks, labelled with the pack."""
    if entry is None or not entry.sections:
        return None
    return {"source": entry.source, "label": pack_label(entry.source), "official": False,
            "sections": [{"name": name, "text": text, "blocks": blocks(text)} for name, text in entry.sections]}


def code_detail(engine: SearchEngine, system: str, code: str) -> dict:
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
    sources = store.mentions(system, record.code)
    named_in = [{"code": src, "url": code_url(system, src), "kind": kind, "label": NOTE_LABELS.get(kind, kind),
                 "text": text} for src, kind, text in sources]
    info = store.systems[system]
    description = describe(record, store, info.get("title", system))
    links = [asdict(c) | {"url": code_url(c.system, c.code) if c.system in store.systems
                          and store.code_id(c.system, c.code) is not None else None}
             for c in crosswalks(engine, system, record.code)]
    return {**record.to_dict(), "label": display_code(record.kind, record.code), "url": code_url(system, record.code),
            "system_info": {**{k: info.get(k, "") for k in INFO_FIELDS},
                            "fhir_uri": system_uri(system, info)},
            "breadcrumbs": breadcrumbs, "children": [row_dict(r) for r in store.children(system, record.code)],
            "note_groups": groups, "named_in": named_in, "seventh_table": [{"character": c, "meaning": m} for c, m in record.seventh],
            "plain_description": description.to_dict() if description else None,
            "content": content_dict(store.content(system, record.code)), "crosswalks": links,
            "validity": validity_dict(store, system, record)}


def validity_dict(store, system: str, record: Code, year: str | None = None) -> dict:
    """The code's years and standing in words, its successors as linked rows; with `year`, the answer for it."""
    info = store.systems[system]
    v = validity(record, info)
    found = store.records(system, list(v.successors))
    successors = [{"system": system, "code": c, "title": found[c].title if c in found else "",
                   "url": code_url(system, c)} for c in v.successors]
    out = {"status": v.status, "years": list(v.years), "known_years": list(known_years(info)),
           "message": v.message, "successors": successors, "system_status": info.get("status", "")}
    if year is not None:
        wanted = check_year(year, info)
        out |= {"year": wanted, "valid_for_claims": v.valid_for_claims(wanted),
                "in_release": exists_in(record, wanted, info)}
    return out


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


def existing(engine: SearchEngine, system: str, code: str) -> Code:
    check_code_path(engine, system, code)
    record = engine.store.record(system, code)
    if record is None:
        raise no_such_code(system, code)
    return record


def hit_dict(hit: Hit) -> dict:
    return {"system": hit.system, "code": hit.code, "title": hit.title, "billable": hit.billable,
            "kind": hit.kind, "chapter": hit.chapter, "score": hit.score, "reasons": list(hit.reasons),
            "url": code_url(hit.system, hit.code),
            "variants": [{"code": v.code, "title": v.title, "label": v.label, "url": code_url(hit.system, v.code)}
                         for v in hit.variants]}


def search_dict(result: SearchResult, limit: int, offset: int, hint: str | None = None) -> dict:
    return {"query": result.query, "total": result.total, "limit": limit, "offset": offset, "hint": hint,
            "next_offset": offset + limit if offset + limit < result.total else None,
            "took_ms": result.took_ms, "mode": result.mode, "did_you_mean": result.did_you_mean,
            "expansions": list(result.expansions), "semantic": "warming" if result.warming else "ready",
            "results": [hit_dict(h) for h in result.hits]}


def systems_dict(engine: SearchEngine, groups: dict[str, list[dict]]) -> dict:
    store = engine.store
    return {"systems": [{**{k: info.get(k, "") for k in INFO_FIELDS}, "fhir_uri": system_uri(name, info),
                         "counts": info.get("counts", {}),
                         "chapters": [{"code": c["code"], "title": c["title"]} for c in groups[name]]}
                        for name, info in store.systems.items()],
            "model": store.manifest["model"], "built_at": store.manifest.get("built_at")}


def health_dict(engine: SearchEngine) -> dict:
    m = engine.store.manifest
    return {"status": "ok", "model": m["model"]["name"], "codes": m["counts"]["codes"],
            "systems": list(engine.store.systems), "built_at": m.get("built_at"), "index": engine.store.directory.name,
            "semantic": semantic_status(engine)}


def semantic_status(engine: SearchEngine) -> dict:
    """'ready', or 'warming' with how far the build of the model's vectors has got (when one is running)."""
    if not engine.warming:
        return {"status": "ready"}
    return {"status": "warming", "progress": progress.read(Path(engine.settings.index_dir))}


def autocode_dict(answer: AutoCode) -> dict:
    """The best match as the API and the CLI give it: the code, or null with 'no confident match'."""
    chosen = hit_dict(answer.hit) if answer.hit is not None else None
    return {"text": answer.text, "match": chosen if answer.confident else None, "confidence": answer.confidence,
            "confident": answer.confident,
            "message": None if answer.confident else "no confident match" + (
                f"; the best candidate is {answer.hit.code}" if answer.hit is not None else ""),
            "candidate": None if answer.confident else chosen,
            "alternatives": [hit_dict(h) for h in answer.alternatives]}
