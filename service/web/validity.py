"""Which fiscal years a code is valid in, in words: the code page, /api/validate and FHIR $validate-code share it."""
from __future__ import annotations

import re
from dataclasses import dataclass

from embeddings.records import Code
from service.errors import QueryError

_YEAR = re.compile(r"^(?:fy)?\s*(\d{4})$", re.IGNORECASE)
_DATE = re.compile(r"^(\d{4})-(\d{2})(?:-(\d{2}))?$")


@dataclass(frozen=True)
class Validity:
    status: str             # active | new | heading | expanded | inactive | retired | listed
    years: tuple[str, ...]  # fiscal years whose code list has it as valid for claims
    message: str
    successors: tuple[str, ...] = ()

    def valid_for_claims(self, year: str) -> bool:
        return year in self.years


def known_years(info: dict) -> tuple[str, ...]:
    """The fiscal years medcodes has a code list for, for one system (from the index manifest)."""
    return tuple(info.get("years") or ())


def fiscal_year(text: str) -> str:
    """'2024', 'FY2024' or a date ('2024-05-01'; a fiscal year starts on 1 October) -> 'FY2024'."""
    value = text.strip()
    year = _YEAR.match(value)
    if year:
        return f"FY{year.group(1)}"
    date = _DATE.match(value)
    if date and 1 <= int(date.group(2)) <= 12:
        return f"FY{int(date.group(1)) + (1 if int(date.group(2)) >= 10 else 0)}"
    raise QueryError(f"year {value[:20]!r} must be a fiscal year (2024, FY2024) or a date (2024-05-01)")


def validity(record: Code, info: dict) -> Validity:
    """The code's standing across the years the index knows, with one sentence a coder can act on."""
    years, title = record.years, info.get("title", record.system)
    known = known_years(info)
    if info.get("status", "").startswith("retired"):
        return Validity("retired", years, f"{record.code} is an {title} code ({info.get('version', '')}), "
                        f"{info['status'].removeprefix('retired: ')}.")
    if not known:
        return Validity("listed", years, f"{record.code} is in the loaded {title} release ({info.get('version', '')}).")
    current, earlier = known[-1], known[:-1]
    listed = " and ".join(y for y in known if y in years)
    if record.inactive:
        return Validity("inactive", years, f"Valid for {listed} discharges; deleted since, so not valid for "
                        f"{current} discharges.", record.successors)
    if record.billable:
        if earlier and not any(y in years for y in earlier):
            return Validity("new", years, f"New since {earlier[-1]}: valid for {current} discharges, not in the "
                            f"{earlier[-1]} code list.")
        return Validity("active", years, f"Valid for {listed} discharges.")
    if years:
        return Validity("expanded", years, f"Valid for {listed} discharges; since then it has more specific codes "
                        f"and is not valid on its own for {current} discharges.", record.successors)
    return Validity("heading", years, f"A heading, not valid on claims in {' or '.join(known)}: choose a code "
                    "under it.")


def check_year(year: str, info: dict) -> str:
    """A fiscal year the system has a code list for; otherwise a 400 naming the years it has."""
    wanted = fiscal_year(year)
    known = known_years(info)
    if wanted not in known:
        have = ", ".join(known) if known else "none (this system has no code history)"
        raise QueryError(f"no {info.get('title', 'code')} code list for {wanted}; years known: {have}")
    return wanted


def exists_in(record: Code, year: str, info: dict) -> bool:
    """Whether the code is part of that year's release: valid for claims then, or a heading that is not new."""
    if year in record.years:
        return True
    # Headings are not in the yearly code lists (they list codes valid for claims); a heading counts as present.
    return not record.inactive and not record.billable and bool(known_years(info))
