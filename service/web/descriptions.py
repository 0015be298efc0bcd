"""Plain-language code descriptions built only from official facts (PCS axes, CM hierarchy and notes); text blocks."""
from __future__ import annotations

import re
from dataclasses import dataclass

from embeddings.codesets.pcs_axes import APPROACH_PLAIN_WORDS, AXIS_NAMES
from embeddings.codesets.pcs_axes import SECTIONS as PCS_SECTIONS
from embeddings.documents import procedure_sentence
from embeddings.records import Code

PCS_LABEL = "Plain-language description — generated from the ICD-10-PCS definitions"
CM_LABEL = "Plain-language description — assembled from the official ICD-10-CM title, hierarchy and notes"
# What each kind of instructional note means, in the words of the ICD-10-CM conventions (guideline I.A.12-I.A.13).
NOTE_MEANINGS = {
    "includes": "Includes (further defines or gives examples of what this group covers)",
    "excludes1": "Excludes1 (never coded together with this code)",
    "excludes2": "Excludes2 (not included here, but both may be coded when both are present)",
    "code_first": "Code first (the underlying condition is coded first)",
    "use_additional": "Use additional code",
    "code_also": "Code also (a further code may be needed)",
    "note": "Note",
}
_LEVELS = {"chapter": "chapter", "block": "block", "category": "category", "subcategory": "subcategory",
           "code": "code", "section": "section", "body_system": "body system", "table": "table"}
_NUMBERED = re.compile(r"^(\d{1,3})[.)]\s+(.*)$")


@dataclass(frozen=True)
class Description:
    """Generated or supplied text for a code page; never official, always shown with its label."""

    label: str
    sections: tuple[tuple[str, str], ...]

    def section(self, name: str) -> str:
        return next((text for n, text in self.sections if n == name), "")

    def to_dict(self) -> dict:
        return {"text": self.section("Summary"), "label": self.label, "official": False,
                "sections": [{"name": n, "text": t, "blocks": blocks(t)} for n, t in self.sections]}


# Built-in systems whose heading rows carry a note medcodes wrote (ICD-9-CM headings titled from their codes).
BUILT_IN_HEADINGS = frozenset({"icd9cm", "icd9pcs"})
HEADING_LABEL = "About this heading — written by medcodes (not official text)"


def file_label(system_title: str) -> str:
    return f"Description — supplied with the {system_title} code file by this site's operator (not official text)"


def pack_label(source: str) -> str:
    return f"From content pack «{source}» — authored text, not official"


def blocks(text: str) -> list[dict]:
    """Text as display blocks: '- ' lines become a list, '1. ' lines an ordered list, other lines paragraphs."""
    out: list[dict] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        numbered = _NUMBERED.match(line)
        kind, item = ("ul", line[2:].strip()) if line.startswith("- ") else \
            ("ol", numbered.group(2)) if numbered else ("p", line)
        if kind != "p" and out and out[-1]["kind"] == kind:
            out[-1]["items"].append(item)
        else:
            out.append({"kind": kind, "items": [item]})
    return out


def describe(record: Code, store, system_title: str = "") -> Description | None:
    """The description a code page shows for `record`; `store` gives its ancestors and first child."""
    if record.system == "icd10pcs":
        return _pcs(record, store)
    if record.system == "icd10cm":
        return _cm(record, store)
    if record.description:
        label = HEADING_LABEL if record.system in BUILT_IN_HEADINGS else file_label(system_title or record.system.upper())
        return Description(label, (("Summary", record.description),))
    return None


# -- ICD-10-PCS ---------------------------------------------------------------------------------------
def _axes(record: Code) -> dict:
    return {a.name: a for a in record.axes if a.label}


def _lower(text: str) -> str:
    return text[:1].lower() + text[1:]


def _pcs(record: Code, store) -> Description:
    if record.inactive:
        summary = (f"{record.code} was a valid ICD-10-PCS code in {' and '.join(record.years)} and has been deleted "
                   "since; it is kept here so older claims and data can be read.")
        return Description(PCS_LABEL, (("Name", record.title), ("Summary", summary)))
    axes = _axes(record)
    if record.kind == "code" and "Root Operation" in axes and "Body Part" in axes:
        return Description(PCS_LABEL, _pcs_code(record, axes))
    section = PCS_SECTIONS.get(record.code[:1], "")
    where = f"the {section} section of ICD-10-PCS" if section else "ICD-10-PCS"
    if record.kind == "table":
        return Description(PCS_LABEL, _pcs_table(record, store, where))
    if record.kind == "section":
        summary = (f"{record.title}: section {record.code} of ICD-10-PCS, grouping the codes listed below; "
                   "it is not a code itself.")
        return Description(PCS_LABEL, (("Name", record.title), ("Summary", summary)))
    if record.kind == "body_system":
        summary = f"{record.title}: a body system of {where}, grouping the codes listed below; it is not a code itself."
        return Description(PCS_LABEL, (("Name", record.title), ("Summary", summary)))
    axis3 = AXIS_NAMES.get(record.code[:1], ("", "", ""))[2]
    summary = f"{record.title}: a code of {where}."
    parent = store.record(record.system, record.parent) if record.parent else None
    if parent is not None and parent.kind == "table" and axis3 and ", body system" not in parent.title:
        summary += f" Its third character ({_lower(axis3)}) is {parent.title} (table {parent.code})."
    summary += (" The tables medcodes loads define the characters of Medical and Surgical and Obstetrics codes only, "
                "so the official title is the full description of this code.")
    return Description(PCS_LABEL, (("Name", record.title), ("Summary", summary)))


def _pcs_code(record: Code, axes: dict) -> tuple[tuple[str, str], ...]:
    op, part, approach = axes["Root Operation"], axes["Body Part"], axes.get("Approach")
    name = f"{op.label} of the {part.label.lower()}"
    plain = APPROACH_PLAIN_WORDS.get(approach.label) if approach else None
    if plain:
        name += f" — {plain}"
    summary = [procedure_sentence(record)]
    section, system = axes.get("Section"), axes.get("Body System")
    if section and system:
        summary.append(f"ICD-10-PCS places it in section {section.value} ({section.label}), body system "
                       f"{system.value} ({system.label}), root operation {op.value} ({op.label}).")
    steps = []
    for axis in record.axes:
        if axis.position < 3 or not axis.label:
            continue
        line = f"- {axis.name} (character {axis.position} = {axis.value}): {axis.label}"
        if axis.definition:
            line += f" — {_lower(axis.definition).rstrip('.')}"
        if axis.name == "Approach" and plain:
            line += f"; in everyday words, {plain}"
        steps.append(line + ".")
    return (("Name", name), ("Summary", "\n".join(summary)), ("Procedure Description", "\n".join(steps)))


def _pcs_table(record: Code, store, where: str) -> tuple[tuple[str, str], ...]:
    """All codes of a table share its first three characters, so the root operation of any child is the table's."""
    children = store.children(record.system, record.code)
    first = store.record(record.system, children[0].code) if children else None
    axes = _axes(first) if first is not None else {}
    op, system = axes.get("Root Operation"), axes.get("Body System")
    if op and system:
        summary = f"Every code in table {record.code} is a {op.label.lower()} in the {system.label.lower()}"
        summary += f": {_lower(op.definition).rstrip('.')}." if op.definition else "."
        summary += " The codes below differ in body part, approach, device and qualifier."
    else:
        summary = f"{record.title}: a table of {where}, grouping the codes listed below; it is not a code itself."
    return (("Name", record.title), ("Summary", summary))


# -- ICD-10-CM ----------------------------------------------------------------------------------------
def _cm(record: Code, store) -> Description:
    ancestors = store.records(record.system, list(record.parents))
    chain = [ancestors[p] for p in record.parents if p in ancestors]
    level = _LEVELS.get(record.kind, record.kind)
    if record.inactive:
        first = (f"{record.code} was a billable ICD-10-CM code in {' and '.join(record.years)} and has been deleted "
                 f"since: {_lower(record.title)}. It is kept here so older claims and data can be read.")
    elif record.billable:
        first = f"{record.code} is a billable ICD-10-CM code (valid for claims): {_lower(record.title)}."
    elif record.kind == "chapter":
        first = f"Chapter {record.code} of ICD-10-CM, {_lower(record.title)}, groups the blocks of codes listed below."
    else:
        first = f"{record.code} is an ICD-10-CM {level}, not billable on its own: {_lower(record.title)}."
        if record.kind != "chapter" and store.children(record.system, record.code):
            first += " A more specific code below is needed."
    summary = [first]
    if chain:
        path = "; ".join(f"{_LEVELS.get(a.kind, a.kind)} {a.code} ({a.title})" for a in chain)
        summary.append(f"It sits under {path}.")
    inclusion = record.notes_of("inclusion")
    if inclusion:
        summary.append("Also described as: " + "; ".join(inclusion) + ".")
    if record.seventh:
        summary.append("It needs a 7th character: " + "; ".join(f"{c} for {m}" for c, m in record.seventh) + ".")
    sections = [("Name", record.title), ("Summary", "\n".join(summary))]
    notes = _inherited_notes(record, chain)
    if notes:
        sections.append(("Instructional notes", "\n".join(notes)))
    return Description(CM_LABEL, tuple(sections))


def _inherited_notes(record: Code, chain: list[Code]) -> list[str]:
    """Notes of the code and of every level above it, which apply to the codes below them, with where each is from."""
    lines = []
    for owner in [*chain, record]:
        level = _LEVELS.get(owner.kind, owner.kind)
        where = f"this {level}" if owner is record else f"{level} {owner.code}"
        for kind, meaning in NOTE_MEANINGS.items():
            notes = owner.notes_of(kind)
            if notes:
                lines.append(f"- {meaning}, from {where}: " + "; ".join(n.rstrip(".;") for n in notes) + ".")
    return lines
