"""ICD-10-CM loader: the CDC tabular XML (FY2026 from simple-icd-10-cm, or any official release by path)."""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from embeddings.codesets.base import CodeSet, SourceError, package_file, package_version
from embeddings.records import Code, Note, SystemInfo

SYSTEM = "icd10cm"
FHIR_URI = "http://hl7.org/fhir/sid/icd-10-cm"
PACKAGE_XML = ("simple_icd_10_cm", "data", "icd10c-tabular-April-1-2026.xml")

NOTE_TAGS = {
    "inclusionTerm": "inclusion", "includes": "includes", "excludes1": "excludes1",
    "excludes2": "excludes2", "codeFirst": "code_first", "useAdditionalCode": "use_additional",
    "codeAlso": "code_also", "notes": "note", "sevenChrNote": "seventh_note",
}
_RANGE_SUFFIX = re.compile(r"\s*\(([A-Z0-9.\-]+)\)\s*$")


def load(source: Path | None = None) -> CodeSet:
    path = Path(source) if source else package_file(*PACKAGE_XML)
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise SourceError(path, f"not well-formed XML ({exc})", line=exc.position[0]) from None
    except OSError as exc:
        raise SourceError(path, f"cannot read ({exc.strerror})") from None
    if root.tag != "ICD10CM.tabular":
        raise SourceError(path, f"root element is <{root.tag}>, expected <ICD10CM.tabular>")
    version = (root.findtext("version") or "").strip() or "unknown"
    fiscal = f"FY{version}"
    codes: list[Code] = []
    for chapter in root.iter("chapter"):
        _walk_chapter(chapter, fiscal, codes)
    if not codes:
        raise SourceError(path, "no chapters found")
    origin = "simple-icd-10-cm " + package_version("simple-icd-10-cm") if not source else f"file {path.name}"
    info = SystemInfo(
        name=SYSTEM, title="ICD-10-CM", version=fiscal, source=f"CDC/NCHS tabular list ({origin})",
        licence="Public domain (U.S. Government work)", fhir_uri=FHIR_URI,
        counts={"codes": len(codes), "billable": sum(c.billable for c in codes)},
    )
    return CodeSet(info=info, codes=tuple(codes))


def _text(el: ET.Element | None) -> str:
    return " ".join((el.text or "").split()) if el is not None else ""


def _note_text(el: ET.Element) -> str:
    """A note's text; ", if applicable, ..." continues its heading ("Code first"), so the leading comma goes."""
    return _text(el).lstrip(", ")


def _notes(el: ET.Element) -> tuple[Note, ...]:
    notes = []
    for tag, kind in NOTE_TAGS.items():
        for block in el.findall(tag):
            notes.extend(Note(kind, _note_text(n)) for n in block.findall("note") if _note_text(n))
    return tuple(notes)


def _seventh(el: ET.Element) -> tuple[tuple[str, str], ...]:
    block = el.find("sevenChrDef")
    if block is None:
        return ()
    return tuple((x.get("char", ""), _text(x)) for x in block.findall("extension"))


def _strip_range(title: str) -> str:
    return _RANGE_SUFFIX.sub("", title)


def _walk_chapter(chapter: ET.Element, version: str, out: list[Code]) -> None:
    number = _text(chapter.find("name"))
    out.append(Code(SYSTEM, number, _strip_range(_text(chapter.find("desc"))), False, "chapter",
                    (), number, "", _notes(chapter), version=version))
    for section in chapter.findall("section"):
        block = section.get("id", "")
        parents = (number,)
        # A one-category block ("B10") shares its category's code: the category stands for both.
        if "-" in block:
            out.append(Code(SYSTEM, block, _strip_range(_text(section.find("desc"))), False, "block",
                            parents, number, block, _notes(section), version=version))
            parents = (number, block)
        for diag in section.findall("diag"):
            _walk_diag(diag, parents, number, block, (), version, out)


def _walk_diag(diag, parents, chapter, block, inherited, version, out) -> None:
    name = _text(diag.find("name"))
    title = _text(diag.find("desc"))
    seventh = _seventh(diag) or inherited
    children = diag.findall("diag")
    kind = "category" if len(name) == 3 else "subcategory" if children else "code"
    billable = not children and not seventh
    out.append(Code(SYSTEM, name, title, billable, kind, parents, chapter, block, _notes(diag),
                    seventh if not billable else (), version=version))
    for child in children:
        _walk_diag(child, parents + (name,), chapter, block, seventh, version, out)
    if not children and seventh:
        stem = name.replace(".", "").ljust(6, "X")
        for char, meaning in seventh:
            if not _seventh_allowed(stem, char):
                continue
            full = f"{stem[:3]}.{stem[3:]}{char}"
            out.append(Code(SYSTEM, full, f"{title}, {meaning}", True, "code", parents + (name,),
                            chapter, block, (), ((char, meaning),), version=version))


_DEATH_BEFORE_CONSCIOUSNESS = re.compile(r"^S06..[78]$")


def _seventh_allowed(stem: str, char: str) -> bool:
    """Official rule (FY2023 on): S06 codes for death before regaining consciousness take 7th character A only."""
    return not (_DEATH_BEFORE_CONSCIOUSNESS.match(stem) and char != "A")
