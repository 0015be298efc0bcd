"""Training pairs (wording, official title) from the ICD-10-CM and PCS tables, with evaluation codes left out."""
from __future__ import annotations

import csv
import hashlib
import random
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from embeddings.abbreviations import spell_slashes
from embeddings.crossrefs import comparable, mentions
from embeddings.records import Code

SEED = 20261201
# Per-source caps keep one source (50k short descriptions) from drowning the rest, and keep training (about
# 16k pairs, one epoch) to about a quarter of an hour on two cores.
CAPS = {"inclusion": 8000, "includes": 800, "mention": 3500, "pcs-index": 2500, "short-cm": 3000,
        "short-pcs": 2500, "table": 700, "parent": 1500}
TABLE = Path(__file__).resolve().parents[1] / "terms" / "abbreviations.tsv"


@dataclass(frozen=True)
class Pair:
    source: str
    anchor: str
    positive: str
    code: str  # system:code of the positive, for the split and the record


def read_exclusions(path: Path) -> tuple[frozenset[str], frozenset[str]]:
    """The file `make model` writes from the evaluation sets: 'system<TAB>prefix' lines and 'text<TAB>query'
    lines. Returns (system:prefix keys, lower-case query texts)."""
    prefixes, texts = set(), set()
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        kind, _, value = line.partition("\t")
        if kind == "text":
            texts.add(value.lower())
        elif kind and value:
            prefixes.add(f"{kind}:{value}")
    return frozenset(prefixes), frozenset(texts)


def excluded(code: Code, prefixes: frozenset[str]) -> bool:
    key = code.key
    return any(f"{code.system}:{key[:n]}" in prefixes for n in range(1, len(key) + 1))


def build_pairs(codes: Sequence[Code], prefixes: frozenset[str], texts: frozenset[str],
                seed: int = SEED, caps: dict[str, int] | None = None) -> list[Pair]:
    """Pairs from inclusion terms, includes notes, PCS Index terms, short descriptions, the abbreviation table and
    child -> parent titles; no pair touches an excluded code or repeats an evaluation query's text."""
    caps = caps or CAPS
    by_code = {(c.system, c.code): c for c in codes}
    kept = [c for c in codes if not excluded(c, prefixes)]
    found: dict[str, list[Pair]] = defaultdict(list)
    pcs_terms: dict[str, list[Code]] = defaultdict(list)
    for c in kept:
        tag = f"{c.system}:{c.code}"
        for kind in ("inclusion", "includes"):
            found[kind] += [Pair(kind, t, c.title, tag) for t in c.notes_of(kind) if t.lower() != c.title.lower()]
        for term in c.terms:
            pcs_terms[term].append(c)
        if c.short and c.short.lower() != c.title.lower():
            found["short-cm" if c.system == "icd10cm" else "short-pcs"].append(
                Pair("short", spell_slashes(c.short), c.title, tag))
        parent = by_code.get((c.system, c.parent))
        if c.system == "icd10cm" and parent and c.kind in ("code", "subcategory") and parent.kind != "block":
            found["parent"].append(Pair("parent", c.title, parent.title, tag))
    # Phrases other codes' notes use for a code ('diarrhea NOS (R19.7)'), evaluation query texts left out in the
    # same comparable form the index uses.
    for (system, code), phrases in sorted(mentions(codes, frozenset(comparable(t) for t in texts)).items()):
        target = by_code.get((system, code))
        if target is not None and not excluded(target, prefixes):
            found["mention"] += [Pair("mention", m.text, target.title, f"{system}:{code}") for m in phrases]
    rng = random.Random(seed)
    for term, holders in sorted(pcs_terms.items()):
        holder = holders[rng.randrange(len(holders))]
        found["pcs-index"].append(Pair("pcs-index", term, holder.title, f"{holder.system}:{holder.code}"))
    found["table"] = list(_table_pairs(texts))
    chosen: list[Pair] = []
    for source in sorted(found):
        pool = [p for p in found[source] if p.anchor.lower() not in texts]
        rng.shuffle(pool)
        chosen += pool[:caps.get(source, len(pool))]
    rng.shuffle(chosen)
    return chosen


def _table_pairs(texts: frozenset[str]) -> Iterable[Pair]:
    with open(TABLE, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            if row["expansion"].strip() and row["term"].lower() not in texts:
                yield Pair("table", row["term"], row["expansion"].strip(), "")


def batches(pairs: Sequence[Pair], size: int) -> list[list[Pair]]:
    """Batches in which no positive repeats, so in-batch negatives are never the right answer."""
    out: list[list[Pair]] = []
    waiting = list(pairs)
    while waiting:
        batch, seen, rest = [], set(), []
        for p in waiting:
            if len(batch) < size and p.positive not in seen and p.anchor not in seen:
                batch.append(p)
                seen.update((p.positive, p.anchor))
            else:
                rest.append(p)
        out.append(batch)
        waiting = rest
    return [b for b in out if len(b) > 1]


def digest(pairs: Sequence[Pair]) -> str:
    h = hashlib.sha256()
    for p in pairs:
        h.update(f"{p.source}\t{p.anchor}\t{p.positive}\t{p.code}\n".encode())
    return h.hexdigest()
