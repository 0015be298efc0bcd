"""Frozen records shared by every layer: Code, Note, Axis and SystemInfo."""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

_NOT_KEY = re.compile(r"[^A-Z0-9\-]")

NOTE_LABELS = {
    "inclusion": "Inclusion terms",
    "includes": "Includes",
    "excludes1": "Excludes1",
    "excludes2": "Excludes2",
    "code_first": "Code first",
    "use_additional": "Use additional code",
    "code_also": "Code also",
    "note": "Note",
    "seventh_note": "7th character note",
    "drg": "MS-DRG figures (CMS Table 5)",
}


INACTIVE = "inactive"


@functools.lru_cache(maxsize=1 << 19)
def code_key(code: str) -> str:
    """Normalised lookup key: upper case, no dots or spaces ('k92.2' -> 'K922')."""
    return _NOT_KEY.sub("", code.upper())


def display_code(system: str, key: str) -> str:
    """A key as written: ICD-10-CM takes a dot after the category (S72.001A); other systems' keys are their codes."""
    return f"{key[:3]}.{key[3:]}" if system == "icd10cm" and len(key) > 3 else key


@dataclass(frozen=True)
class Note:
    kind: str
    text: str


@dataclass(frozen=True)
class Axis:
    position: int
    name: str
    value: str
    label: str
    definition: str = ""


@dataclass(frozen=True)
class Code:
    system: str
    code: str
    title: str
    billable: bool
    kind: str
    parents: tuple[str, ...] = ()
    chapter: str = ""
    section: str = ""
    notes: tuple[Note, ...] = ()
    seventh: tuple[tuple[str, str], ...] = ()
    axes: tuple[Axis, ...] = ()
    terms: tuple[str, ...] = ()
    description: str = ""
    version: str = ""
    short: str = ""  # the CMS short description billers see on claims ('Traum subdr hem w/o loss of consciousness, init')
    # Code history: the fiscal years whose official code list has this code as valid for claims ("FY2024",
    # "FY2026"), and for a code no longer valid the codes that took its place.
    years: tuple[str, ...] = ()
    successors: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return code_key(self.code)

    @property
    def parent(self) -> str:
        return self.parents[-1] if self.parents else ""

    def notes_of(self, kind: str) -> list[str]:
        return [n.text for n in self.notes if n.kind == kind]

    def to_dict(self) -> dict:
        """The record as plain data (what dataclasses.asdict gives, without its deep copy: a full build writes
        200,000 of these, and asdict took 20 s of it)."""
        out = dict(self.__dict__)
        out["notes"] = tuple({"kind": n.kind, "text": n.text} for n in self.notes)
        out["axes"] = tuple(dict(a.__dict__) for a in self.axes)
        return out

    @classmethod
    def from_dict(cls, d: dict) -> "Code":
        return cls(
            system=d["system"], code=d["code"], title=d["title"], billable=bool(d["billable"]),
            kind=d["kind"], parents=tuple(d.get("parents", ())), chapter=d.get("chapter", ""),
            section=d.get("section", ""),
            notes=tuple(Note(**n) for n in d.get("notes", ())),
            seventh=tuple(tuple(p) for p in d.get("seventh", ())),
            axes=tuple(Axis(**a) for a in d.get("axes", ())),
            terms=tuple(d.get("terms", ())), description=d.get("description", ""),
            version=d.get("version", ""), short=d.get("short", ""),
            years=tuple(d.get("years", ())), successors=tuple(d.get("successors", ())),
        )

    @property
    def inactive(self) -> bool:
        """Deleted from the loaded release: kept so old data can be looked up, never offered for new claims."""
        return self.kind == INACTIVE


@dataclass(frozen=True)
class SystemInfo:
    name: str
    title: str
    version: str
    source: str
    licence: str
    fhir_uri: str = ""
    # False for systems a search reaches only when named (retired ICD-9-CM, MS-DRG groups): a search of "all"
    # systems means the current code sets, so their text never competes with or routes an ICD-10 search.
    default_search: bool = True
    years: tuple[str, ...] = ()  # fiscal years with a code list in this index, oldest first
    status: str = ""  # one line shown beside the system: "retired 2015-10-01: use ICD-10-CM for current claims"
    counts: dict = field(default_factory=dict, compare=False, hash=False)
