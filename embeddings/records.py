"""Frozen records shared by every layer: Code, Note, Axis and SystemInfo."""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

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
}


def code_key(code: str) -> str:
    """Normalised lookup key: upper case, no dots or spaces ('k92.2' -> 'K922')."""
    return _NOT_KEY.sub("", code.upper())


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

    @property
    def key(self) -> str:
        return code_key(self.code)

    @property
    def parent(self) -> str:
        return self.parents[-1] if self.parents else ""

    def notes_of(self, kind: str) -> list[str]:
        return [n.text for n in self.notes if n.kind == kind]

    def to_dict(self) -> dict:
        return asdict(self)

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
        )


@dataclass(frozen=True)
class SystemInfo:
    name: str
    title: str
    version: str
    source: str
    licence: str
    fhir_uri: str = ""
    counts: dict = field(default_factory=dict, compare=False, hash=False)
