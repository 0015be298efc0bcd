"""ConceptMap resources and $translate over the crosswalks the index holds: CMS GEMs and AHRQ CCS/CCSR."""
from __future__ import annotations

from dataclasses import dataclass

from service.web.fhir.params import FhirError, one, parameters

ICD9CM = "http://hl7.org/fhir/sid/icd-9-cm"
ICD9PCS = "urn:oid:2.16.840.1.113883.6.104"  # ICD-9-CM Volume 3 (procedures), served as medcodes' icd9pcs
CM = "http://hl7.org/fhir/sid/icd-10-cm"
PCS = "http://www.cms.gov/Medicare/Coding/ICD10"
CCSR = "urn:medcodes:ahrq-ccsr"  # AHRQ publishes no FHIR URI for CCS / CCSR categories
CCS = "urn:medcodes:ahrq-ccs"
MAX_REVERSE = 500  # a CCS(R) category may hold thousands of codes; a reverse translation lists at most this many


@dataclass(frozen=True)
class MapInfo:
    id: str
    title: str
    source: str
    target: str
    system: str  # the loaded ICD-10 system the map reads
    kind: str  # "gem" or a grouping scheme
    direction: str = ""  # GEM file: 9to10 or 10to9

    @property
    def url(self) -> str:
        return f"urn:medcodes:ConceptMap/{self.id}"


MAPS = (
    MapInfo("gem-icd9cm-icd10cm", "CMS GEM, ICD-9-CM to ICD-10-CM (2018)", ICD9CM, CM, "icd10cm", "gem", "9to10"),
    MapInfo("gem-icd10cm-icd9cm", "CMS GEM, ICD-10-CM to ICD-9-CM (2018)", CM, ICD9CM, "icd10cm", "gem", "10to9"),
    MapInfo("gem-icd9cm-icd10pcs", "CMS GEM, ICD-9-CM procedures to ICD-10-PCS", ICD9PCS, PCS, "icd10pcs", "gem",
            "9to10"),
    MapInfo("ccsr-icd10cm", "AHRQ CCSR categories of ICD-10-CM codes", CM, CCSR, "icd10cm", "ccsr"),
    MapInfo("ccs-icd10pcs", "AHRQ CCS procedure categories of ICD-10-PCS codes", PCS, CCS, "icd10pcs", "ccs"),
)


def icd9_forms(code: str) -> list[str]:
    """The dotted forms an ICD-9-CM code may take in the GEMs ('4101' -> '410.1'; procedures '3615' -> '36.15')."""
    code = code.strip().upper()
    if "." in code:
        return [code]
    return sorted({code} | {code[:n] + "." + code[n:] for n in (2, 3, 4) if len(code) > n})


class ConceptMaps:
    """Answers ConceptMap read/search and $translate from the loaded index's groupings."""

    def __init__(self, store, uri_of):
        self.store, self.uri_of = store, uri_of
        self.maps = [m for m in MAPS if m.system in store.systems]

    def resource(self, info: MapInfo) -> dict:
        return {"resourceType": "ConceptMap", "id": info.id, "url": info.url, "name": info.id.replace("-", "_"),
                "title": info.title, "status": "active", "experimental": False,
                "description": "Crosswalk held by medcodes; read one code's targets with $translate (the elements are "
                               "not listed in the resource).",
                "sourceUri": info.source, "targetUri": info.target}

    def find(self, map_id: str) -> MapInfo:
        for info in self.maps:
            if map_id in (info.id, info.url):
                return info
        raise FhirError(404, "not-found", f"no ConceptMap {map_id[:80]!r}; maps: {', '.join(m.id for m in self.maps)}")

    def translate(self, params: dict) -> dict:
        code = one(params, "code", required=True)
        system = one(params, "system")
        reverse = (one(params, "reverse") or "false").lower() == "true"
        url = one(params, "url")
        target = one(params, "target") or one(params, "targetsystem")
        if url:
            chosen = [self.find(url)]
        else:
            if not system:
                raise FhirError(400, "required", "give url (a ConceptMap) or system (with target to pick one map)")
            chosen = [m for m in self.maps if _names(m.target if reverse else m.source, system)
                      and (not target or _names(m.source if reverse else m.target, target))]
            if not chosen:
                raise FhirError(404, "not-found", f"no ConceptMap from {system[:80]!r}"
                                                  + (f" to {target[:80]!r}" if target else ""))
        matches: list[tuple[str, str, str, str, str]] = []
        for info in chosen:
            matches += self._matches(info, code, reverse)
        found = [("result", {"valueBoolean": bool(matches)})]
        if not matches:
            found.append(("message", {"valueString": f"{code[:40]} has no mapping in {', '.join(m.id for m in chosen)}"}))
        for equivalence, system_uri, target_code, display, source in matches:
            coding = {"system": system_uri, "code": target_code} | ({"display": display} if display else {})
            found.append(("match", {"part": [{"name": "equivalence", "valueCode": equivalence},
                                             {"name": "concept", "valueCoding": coding},
                                             {"name": "source", "valueUri": source}]}))
        return parameters(*found)

    def _matches(self, info: MapInfo, code: str, reverse: bool) -> list[tuple[str, str, str, str, str]]:
        store = self.store
        out = []
        if info.kind == "gem":
            icd9_uri = info.source if info.source in (ICD9CM, ICD9PCS) else info.target
            icd10_side = (info.source == icd9_uri) == reverse  # the code given is the ICD-10 one
            if icd10_side:
                record = store.record(info.system, code)
                rows = [g for g in store.gems(info.system, record.key) if g.direction == info.direction] if record else []
                out = [(_equivalence(g), icd9_uri, g.icd9, g.title, info.url) for g in rows]
            else:
                rows = store.gems_of_icd9(info.system, icd9_forms(code), info.direction)
                records = {r.key: r for r in store.records(info.system, [key for key, _g in rows]).values()}
                out = [(_equivalence(g), self.uri_of(info.system), records[key].code, records[key].title, info.url)
                       for key, g in rows if key in records]
            return out
        if not reverse:
            record = store.record(info.system, code)
            groups = store.groups_of(info.system, record.key, info.kind) if record else []
            return [("relatedto" if len(groups) > 1 else "wider", info.target, g, label, info.url)
                    for g, label in groups]
        keys = store.group_members(info.system, info.kind, code.strip().upper(), MAX_REVERSE)
        records = store.records(info.system, keys)
        return [("narrower", self.uri_of(info.system), r.code, r.title, info.url) for r in records.values()]


def _names(map_uri: str, given: str) -> bool:
    """Whether a system URI a client gave names a map's side; the ICD-9-CM URI covers its procedures too (HL7
    uses one URI for both volumes; medcodes serves procedures as their own system)."""
    return map_uri == given or (given == ICD9CM and map_uri == ICD9PCS)


def _equivalence(gem) -> str:
    """GEM flags as FHIR R4 equivalence: an approximate or combination entry is 'inexact', else 'equivalent'."""
    return "inexact" if gem.approximate or gem.combination else "equivalent"
