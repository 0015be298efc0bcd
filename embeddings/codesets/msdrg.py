"""MS-DRG groups (FY2026 final rule, Table 5: titles, MDC, relative weights, lengths of stay) from the drg package."""
from __future__ import annotations

import csv
import re
from pathlib import Path

from embeddings.codesets.base import CodeSet, SourceError, package_file, package_version
from embeddings.records import Code, Note, SystemInfo

SYSTEM = "msdrg"
FHIR_URI = "https://www.cms.gov/Medicare/Medicare-Fee-for-Service-Payment/AcuteInpatientPPS/MS-DRG-Classifications-and-Software"
WEIGHTS = ("drg", "data", "cms", "drg_weights.txt")
MDC_NAMES = ("drg", "data", "tuva", "mdc.csv")
_DRG = re.compile(r"^\d{3}$")
_YEAR = re.compile(r"FY\s*(\d{4})")
TYPES = {"SURG": "surgical", "MED": "medical"}
# Rows with no MDC of their own: the pre-MDC groups (transplants, ECMO) and the two error groups.
EXTRA_MDC = {"PRE": "Pre-MDC (assigned before the major diagnostic category)", "": "Error groups (not an MDC)"}
NOTE_KIND = "drg"


def load(source: Path | None = None) -> CodeSet:
    """`source`: a CMS Table 5 text file (tab-separated, as published with each IPPS final rule)."""
    path = Path(source) if source else package_file(*WEIGHTS)
    rows, year = read_table(path)
    names = {**EXTRA_MDC, **read_mdc_names(package_file(*MDC_NAMES))}
    version = f"FY{year}"
    codes: list[Code] = []
    used = [m for m in dict.fromkeys(r["mdc"] for r in rows)]
    for mdc in sorted(used, key=lambda m: (m == "", m != "PRE", m)):
        codes.append(Code(SYSTEM, mdc_code(mdc), names.get(mdc, f"MDC {mdc}"), False, "mdc", (), mdc_code(mdc),
                          version=version))
        for r in (r for r in rows if r["mdc"] == mdc):
            codes.append(Code(SYSTEM, r["drg"], r["title"], True, "code", (mdc_code(mdc),), mdc_code(mdc),
                              notes=_figures(r, version), version=version, years=(version,)))
    origin = "drg " + package_version("drg") if not source else f"file {path.name}"
    info = SystemInfo(
        name=SYSTEM, title="MS-DRG", version=version,
        source=f"CMS IPPS final rule Table 5, relative weighting factors ({origin})",
        licence="Public domain (U.S. Government work)", fhir_uri=FHIR_URI, default_search=False,
        years=(version,), status="payment groups for inpatient stays, assigned by grouper software from the codes of a claim",
        counts={"codes": len(codes), "billable": len(rows)})
    return CodeSet(info=info, codes=tuple(codes))


def mdc_code(mdc: str) -> str:
    """Row code of an MDC: 'MDC01', 'MDCPRE'; the error groups sit under 'MDC-NONE'."""
    return f"MDC{mdc}" if mdc else "MDC-NONE"


def read_table(path: Path) -> tuple[list[dict], str]:
    """The DRG rows of a Table 5 file and the fiscal year its title names."""
    try:
        text = Path(path).read_bytes().decode("cp1252", errors="replace")
    except OSError as exc:
        raise SourceError(path, f"cannot read ({exc.strerror})") from None
    year_match = _YEAR.search(text[:2000])
    if year_match is None:
        raise SourceError(path, "no fiscal year (\"FY 2026\") in the table's title")
    rows = []
    for line, fields in enumerate(csv.reader(text.splitlines(), delimiter="\t"), start=1):
        if not fields or not _DRG.match(fields[0].strip()):
            continue
        if len(fields) < 10:
            raise SourceError(path, f"expected 10 tab-separated columns, got {len(fields)}", line)
        drg, post_acute, special, mdc, kind, title, weight, _capped, gmlos, amlos = (f.strip() for f in fields[:10])
        if not title:
            raise SourceError(path, f"DRG {drg} has no title", line)
        rows.append({"drg": drg, "mdc": mdc, "type": kind, "title": " ".join(title.split()), "weight": weight,
                     "gmlos": gmlos, "amlos": amlos, "post_acute": post_acute, "special": special})
    if not rows:
        raise SourceError(path, "no DRG rows found")
    return rows, year_match.group(1)


def read_mdc_names(path: Path) -> dict[str, str]:
    with open(path, newline="", encoding="utf-8") as fh:
        return {row[0].strip(): row[1].strip() for row in csv.reader(fh) if len(row) >= 2}


def _figures(row: dict, version: str) -> tuple[Note, ...]:
    """The table's figures for one DRG as notes: type, relative weight, mean lengths of stay, transfer policy."""
    out = [f"{TYPES[row['type']].capitalize()} DRG" if row["type"] in TYPES else "Error group: no surgical or medical type"]
    if _number(row["weight"]):
        out.append(f"Relative weight ({version}): {row['weight']}")
    if _number(row["gmlos"]):
        out.append(f"Geometric mean length of stay: {row['gmlos']} days")
    if _number(row["amlos"]):
        out.append(f"Arithmetic mean length of stay: {row['amlos']} days")
    if row["post_acute"].lower() == "yes":
        out.append("Post-acute care transfer DRG" + (" (special pay)" if row["special"].lower() == "yes" else ""))
    return tuple(Note(NOTE_KIND, text) for text in out)


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def weight(code: Code) -> float | None:
    """A DRG's relative weight from its notes, or None."""
    for text in code.notes_of(NOTE_KIND):
        if text.startswith("Relative weight"):
            return float(text.rsplit(" ", 1)[1])
    return None
