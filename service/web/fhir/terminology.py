"""The index seen through FHIR: code systems by canonical URI and the resources the operations answer with."""
from __future__ import annotations

import re
import uuid
from datetime import datetime, timezone

import numpy as np

from embeddings.documents import synonyms
from embeddings.records import INACTIVE
from service.errors import QueryError
from service.search.engine import FLAT_FEATURES
from service.web.fhir.conceptmaps import ConceptMaps
from service.web.fhir.params import FHIR_VERSION, MEDIA_TYPE, FhirError, every, integer, one, parameters
from service.web.fhir.valuesets import FORMS, Descendants, ValueSetRef, member, subsumption
from service.web.validity import exists_in, fiscal_year, known_years, validity

DEFAULT_COUNT = 20
MAX_EXPAND_OFFSET = 10**9
# Code systems loaded from an operator's file (--custom cpt=...) have no official URI medcodes may claim for them.
LOCAL_URI_PREFIX = "urn:medcodes:"
# SNOMED CT "Synonym" designation use, the usual marker for alternative wordings in $lookup designations.
SYNONYM = {"system": "http://snomed.info/sct", "code": "900000000000013009", "display": "Synonym"}
# Grouping rows that are not codes a user can choose; they are marked abstract in expansions.
GROUPING_KINDS = frozenset({"chapter", "block", "section", "body_system", "table"})
# The CMS short description (claim text) as a designation use; no standard code names it.
SHORT = {"system": "urn:medcodes:designation-use", "code": "short", "display": "CMS short description (claim text)"}
PROPERTIES = [{"code": "parent", "type": "code", "description": "the code one level up"},
              {"code": "child", "type": "code", "description": "a code one level down"},
              {"code": "billable", "type": "boolean", "description": "valid for claims (a leaf code)"},
              {"code": "inactive", "type": "boolean", "description": "deleted since an earlier release medcodes "
                                                                     "holds (FY2024): kept for old data, not valid now"},
              {"code": "chapter", "type": "code", "description": "the chapter (ICD-10-CM) or section (PCS) it sits in"}]


def system_uri(name: str, info: dict) -> str:
    """The official URI of a built-in system; urn:medcodes:NAME for a user-supplied one."""
    return info.get("fhir_uri") or f"{LOCAL_URI_PREFIX}{name}"


class Terminology:
    """Answers the terminology operations from the loaded index."""

    def __init__(self, engine, settings):
        self.engine, self.store, self.settings = engine, engine.store, settings
        self.by_uri = {system_uri(name, info): name for name, info in self.store.systems.items()}
        self.descendants = Descendants(self.store)
        self.maps = ConceptMaps(self.store, self.uri)

    def system(self, uri: str, version: str | None = None) -> str:
        if "|" in uri:  # a canonical reference may carry its version: http://hl7.org/fhir/sid/icd-10-cm|FY2026
            uri, _, pinned = uri.partition("|")
            version = version or pinned or None
        name = self.by_uri.get(uri)
        if name is None:
            raise FhirError(404, "not-found", f"CodeSystem {uri[:200]!r} is not known to this server; "
                                              f"known: {', '.join(self.by_uri) or 'none'}")
        have = self.version(name)
        if version and version != have and version not in self.years(name):
            also = [y for y in self.years(name) if y != have]
            raise FhirError(404, "not-found", f"version {version[:40]!r} of {uri} is not loaded; this server has {have}"
                            + (f" (and the code list of {', '.join(also)} for validation)" if also else ""))
        return name

    def years(self, name: str) -> tuple[str, ...]:
        return known_years(self.store.systems[name])

    def year(self, name: str, version: str | None, date: str | None) -> str | None:
        """The fiscal year a $validate-code asks about: a version naming one (FY2024) or the date of service."""
        if version and version in self.years(name) and version != self.version(name):
            return version
        if date:
            try:
                wanted = fiscal_year(date[:10])
            except QueryError as exc:
                raise FhirError(400, "invalid", str(exc)) from None
            if wanted not in self.years(name):
                raise FhirError(400, "not-supported", f"no code list of {self.uri(name)} for {wanted} (the date "
                                f"{date[:20]!r}); years known: {', '.join(self.years(name)) or 'none'}")
            return wanted
        return None

    def value_set(self, url: str) -> str:
        return self.value_set_ref(url)[0]

    def value_set_ref(self, url: str) -> tuple[str, ValueSetRef]:
        """The system and the implicit value set an URL names; an isa/ root must be a code of that system."""
        ref = ValueSetRef.parse(url)
        name = self.system(ref.system_uri)
        if ref.root is not None:
            record, problem = self.record(name, ref.root)
            if record is None:
                raise FhirError(404, "not-found", problem or "unknown code")
        return name, ref

    def validate_in(self, name: str, ref: ValueSetRef, code: str, display: str | None) -> dict:
        """$validate-code against an implicit value set: the code must exist, be under its root and billable if asked."""
        answer = self.validate(name, code, display)
        record, _problem = self.record(name, code)
        if record is None or member(record, ref):
            return answer
        why = (f"under {ref.root}" if ref.root is not None and not member(record, ValueSetRef(ref.system_uri, ref.root))
               else "billable")
        return parameters(("result", {"valueBoolean": False}),
                          ("message", {"valueString": f"{code} is a code of {self.uri(name)} but not {why}, so it is "
                                                      "not in this value set"}),
                          ("display", {"valueString": record.title}))

    def subsumes(self, params: dict) -> dict:
        name = self.system(one(params, "system", required=True), one(params, "version"))
        records = []
        for which in ("codeA", "codeB"):
            record, problem = self.record(name, one(params, which, required=True))
            if record is None:
                raise FhirError(404, "not-found", f"{which}: {problem}")
            records.append(record)
        return parameters(("outcome", {"valueCode": subsumption(*records)}))

    def uri(self, name: str) -> str:
        return system_uri(name, self.store.systems[name])

    def version(self, name: str) -> str:
        return self.store.systems[name].get("version", "")

    def record(self, name: str, code: str):
        """The record whose official code is exactly `code`; a near miss ('k922') is reported, not accepted."""
        record = self.store.record(name, code)
        if record is not None and record.code == code:
            return record, None
        hint = f"; did you mean {record.code!r}?" if record is not None else ""
        return None, f"code {code[:40]!r} is not in {self.uri(name)} (version {self.version(name)}){hint}"

    def code_system(self, name: str) -> dict:
        info = self.store.systems[name]
        return {"resourceType": "CodeSystem", "id": name, "url": self.uri(name), "version": info.get("version"),
                "name": re.sub(r"[^A-Za-z0-9_]", "", info.get("title", name).upper()) or name.upper(),
                "title": info.get("title", name), "status": "active", "experimental": False,
                "publisher": info.get("source", ""), "copyright": info.get("licence", ""), "caseSensitive": True,
                "hierarchyMeaning": "is-a", "content": "not-present",
                "count": int(info.get("counts", {}).get("codes", 0)), "property": PROPERTIES}

    def lookup(self, params: dict) -> dict:
        name = self.system(one(params, "system", required=True), one(params, "version"))
        record, problem = self.record(name, one(params, "code", required=True))
        if record is None:
            raise FhirError(404, "not-found", problem)
        wanted = set(every(params, "property"))
        props = ([("parent", {"valueCode": record.parent})] if record.parent else [])
        props += [("child", {"valueCode": row.code}) for row in self.store.children(name, record.code)]
        props += [("billable", {"valueBoolean": record.billable}), ("inactive", {"valueBoolean": record.inactive})]
        props += [("chapter", {"valueCode": record.chapter})] if record.chapter else []
        pairs = [("name", {"valueString": self.store.systems[name].get("title", name)}),
                 ("version", {"valueString": self.version(name)}), ("display", {"valueString": record.title})]
        pairs += [("designation", {"part": [{"name": "language", "valueCode": "en"},
                                            {"name": "use", "valueCoding": SYNONYM},
                                            {"name": "value", "valueString": term}]}) for term in synonyms(record)]
        if record.short and record.short != record.title:
            pairs += [("designation", {"part": [{"name": "language", "valueCode": "en"},
                                                {"name": "use", "valueCoding": SHORT},
                                                {"name": "value", "valueString": record.short}]})]
        pairs += [("property", {"part": [{"name": "code", "valueCode": code}, {"name": "value", **value}]})
                  for code, value in props if not wanted or code in wanted]
        return parameters(*pairs)

    def validate(self, name: str, code: str, display: str | None, year: str | None = None) -> dict:
        """Is the code in the release (or, with `year`, in that fiscal year's)? Deleted codes are not; the message
        then gives the years it was valid in and its likely successors."""
        record, problem = self.record(name, code)
        if record is None:
            return parameters(("result", {"valueBoolean": False}), ("message", {"valueString": problem}))
        info = self.store.systems[name]
        standing = validity(record, info)
        if record.inactive if year is None else not exists_in(record, year, info):
            later = f" Successors: {', '.join(standing.successors)}." if standing.successors else ""
            when = f"Not in the {year} code list. " if year else ""
            return parameters(("result", {"valueBoolean": False}),
                              ("message", {"valueString": f"{when}{code}: {standing.message}{later}"}),
                              ("display", {"valueString": record.title}))
        shown = ("result", {"valueBoolean": True}), ("display", {"valueString": record.title})
        if standing.status == "retired" and display is None:  # valid in its system, which claims no longer use
            return parameters(shown[0], ("message", {"valueString": standing.message}), shown[1])
        if display is None or _words(display) in {_words(t) for t in [record.title, *synonyms(record)]}:
            return parameters(*shown)
        message = f"{display[:200]!r} is not a display of {code}; the official display is {record.title!r}"
        return parameters(("result", {"valueBoolean": False}), ("message", {"valueString": message}), shown[1])

    def expand(self, params: dict) -> dict:
        url = one(params, "url", required=True)
        name, ref = self.value_set_ref(url)
        count = integer(params, "count", DEFAULT_COUNT, self.settings.max_limit)
        text = one(params, "filter")
        filtered = bool(text and text.strip())
        offset = integer(params, "offset", 0, self.settings.max_offset if filtered else MAX_EXPAND_OFFSET)
        if ref.root is not None:
            total, rows = self._expand_under(name, ref, text if filtered else None, count, offset)
        elif filtered:
            result = self.engine.search(text, name, True if ref.billable else None, None, max(count, 1), offset,
                                        features=FLAT_FEATURES)
            total, rows = result.total, [(h.code, h.title, h.kind) for h in result.hits][:count]
        elif ref.billable:
            ids = np.flatnonzero(self.store.billable & (self.store.system_of == name))
            total, rows = len(ids), [(r.code, r.title, r.kind) for r in self._rows(ids[offset:offset + count])]
        else:
            total = int(self.store.systems[name].get("counts", {}).get("codes", 0))
            rows = [(r.code, r.title, r.kind) for r in self.store.page(name, count, offset)]
        uri, version = self.uri(name), self.version(name)
        used = [("url", {"valueUri": url}), ("count", {"valueInteger": count}), ("offset", {"valueInteger": offset}),
                ("used-codesystem", {"valueUri": f"{uri}|{version}"})] + ([("filter", {"valueString": text})]
                                                                         if text else [])
        contains = [{"system": uri, "version": version, "code": code, "display": title}
                    | ({"abstract": True} if kind in GROUPING_KINDS else {})
                    | ({"inactive": True} if kind == INACTIVE else {}) for code, title, kind in rows]
        expansion = {"identifier": f"urn:uuid:{uuid.uuid4()}", "timestamp": now(), "total": total, "offset": offset,
                     "parameter": [{"name": n, **v} for n, v in used]}
        if contains:
            expansion["contains"] = contains
        return {"resourceType": "ValueSet", "url": url if "?fhir_vs" in url else f"{uri}?fhir_vs", "version": version,
                "status": "active", "name": f"All{self.code_system(name)['name']}Codes", "expansion": expansion}

    def _rows(self, ids) -> list:
        rows = self.store.rows([int(i) for i in ids])
        return [rows[int(i)] for i in ids if int(i) in rows]

    def _expand_under(self, name: str, ref: ValueSetRef, text: str | None, count: int, offset: int) -> tuple[int, list]:
        """A subtree's codes in tabular order, or, with a filter, the search's ranked hits that fall in it (among the
        first max_offset + max_limit of the search)."""
        root_id = self.store.code_id(name, ref.root)
        ids = self.descendants.under(name, root_id, ref.billable)
        if text is None:
            return len(ids), [(r.code, r.title, r.kind) for r in self._rows(ids[offset:offset + count])]
        inside, hits = set(ids.tolist()), []
        limit = self.settings.max_limit
        for start in range(0, self.settings.max_offset + 1, limit):
            page = self.engine.search(text, name, None, None, limit, start, features=FLAT_FEATURES)
            hits += [h for h in page.hits if self.store.code_id(name, h.code) in inside]
            if start + limit >= page.total:
                break
        return len(hits), [(h.code, h.title, h.kind) for h in hits[offset:offset + count]]

    def capabilities(self, terminology: bool) -> dict:
        common = {"status": "active", "date": self.store.manifest.get("built_at") or now(), "kind": "instance",
                  "software": {"name": "medcodes", "version": "0.1.0"},
                  "implementation": {"description": "medcodes terminology service over ICD-10-CM / ICD-10-PCS (with "
                                                    "FY2024 code history), ICD-9-CM and MS-DRG; "
                                                    f"user-supplied code systems are served as {LOCAL_URI_PREFIX}NAME"}}
        if terminology:
            versions = [{"uri": uri, "subsumption": True, "version": [
                {"code": self.version(name), "isDefault": True, "property": [p["code"] for p in PROPERTIES]}] + [
                {"code": y, "isDefault": False} for y in self.years(name) if y != self.version(name)]}
                for uri, name in self.by_uri.items()]
            return {"resourceType": "TerminologyCapabilities", **common, "codeSystem": versions,
                    "expansion": {"hierarchical": False, "paging": True, "incomplete": False,
                                  "parameter": [{"name": n} for n in ("url", "filter", "count", "offset")],
                                  "textFilter": "Words or a code; ranked by the hybrid search (words and meaning). "
                                                "Implicit value sets: " + FORMS + ".",
                                  },
                    "validateCode": {"translations": False}, "translation": {"needsMap": False}}

        def op(name: str, resource: str) -> dict:
            return {"name": name, "definition": f"http://hl7.org/fhir/OperationDefinition/{resource}-{name}"}
        resources = [{"type": "CodeSystem", "interaction": [{"code": "read"}, {"code": "search-type"}],
                      "searchParam": [{"name": "url", "type": "uri"}],
                      "operation": [op("lookup", "CodeSystem"), op("validate-code", "CodeSystem"),
                                    op("subsumes", "CodeSystem")]},
                     {"type": "ValueSet", "operation": [op("expand", "ValueSet"), op("validate-code", "ValueSet")]},
                     {"type": "ConceptMap", "interaction": [{"code": "read"}, {"code": "search-type"}],
                      "searchParam": [{"name": "url", "type": "uri"}], "operation": [op("translate", "ConceptMap")]}]
        return {"resourceType": "CapabilityStatement", **common, "fhirVersion": FHIR_VERSION,
                "format": [MEDIA_TYPE, "json"],
                "instantiates": ["http://hl7.org/fhir/CapabilityStatement/terminology-server"],
                "rest": [{"mode": "server", "resource": resources, "interaction": [{"code": "batch"}]}]}


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _words(text: str) -> str:
    return " ".join(text.lower().split())
