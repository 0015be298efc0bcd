"""PCS root-operation semantics of everyday procedure words: 'gallbladder removal' means Resection or Excision
of a body part, while PCS Removal takes out a device; 'scope' is Inspection, 'setting' Reposition."""
from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping

import embeddings
from service.search import query as q

TABLE = Path(embeddings.__file__).parent / "terms" / "operations.tsv"
# A stent is put in a tubular body part to hold it open: PCS codes that as Dilation with Intraluminal Device.
LUMEN, LUMEN_WORDS = "intraluminal device", frozenset({"stent", "intraluminal"})
OBJECTS = ("body part", "device", LUMEN, "matter", "any")
LOOKING = ("Inspection",)  # the operation of a scope or camera named alone
# The root operations of the Medical and Surgical section that do something beyond looking (PCS definitions).
DOING = frozenset("""alteration bypass change control creation destruction detachment dilation division drainage
    excision extirpation extraction fragmentation fusion insertion occlusion reattachment release removal repair
    replacement reposition resection restriction revision supplement transfer transplantation""".split())
# What PCS Extirpation takes out: "solid matter such as foreign body, thrombus, or calculus" (its definition).
MATTER_WORDS = frozenset("stone calculus calculi clot thrombus embolus foreign matter debris".split())
# 'Removal of <device> from <body part>, <approach>', and in Placement 'Removal of <device> on <body region>'.
_REMOVAL_TITLE = re.compile(r"^Removal of (.+?) (?:from|on) (.+?)(?:,|$)")
# Verb forms a suffix rule cannot reach; the table names each verb once and every form of it matches.
_IRREGULAR = {"taken": "take", "took": "take", "takes": "take", "tying": "tie", "tied": "tie", "ties": "tie",
              "cutting": "cut", "cuts": "cut", "putting": "put", "puts": "put", "setting": "set", "sets": "set",
              "resetting": "reset", "done": "do", "did": "do", "got": "get", "gotten": "get", "getting": "get"}


def word_form(word: str) -> str:
    """The form table terms and query words are compared in: 'removed', 'removing', 'removal' stay apart from
    each other's nouns, but every inflection of a verb meets ('removed' -> 'remov', 'remove' -> 'remov')."""
    if word in _IRREGULAR:
        word = _IRREGULAR[word]
    elif word.endswith("ing") and len(word) > 5:
        word = word[:-3]
    elif word.endswith("ied") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith("ed") and len(word) > 4:
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")) and len(word) > 3:
        word = word[:-1]
    if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "aeiouls":
        word = word[:-1]  # 'stopped' -> 'stopp' -> 'stop'
    return word[:-1] if word.endswith("e") and len(word) > 3 else word


@dataclass(frozen=True)
class Rule:
    term: tuple[str, ...]
    operations: tuple[str, ...]
    object: str


@dataclass(frozen=True)
class Reading:
    """Where the operation word is, the root operations it means here and those it does not mean here."""
    start: int
    length: int
    operations: tuple[str, ...]
    not_operations: tuple[str, ...]


def load_rules(path: Path = TABLE) -> dict[tuple[str, ...], tuple[Rule, ...]]:
    rules: dict[tuple[str, ...], list[Rule]] = {}
    with open(path, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            if row["object"] not in OBJECTS:
                raise ValueError(f"{path}: object {row['object']!r} of {row['term']!r} is not one of {OBJECTS}")
            term = tuple(word_form(w) for w in q.tokens(row["term"]))
            rules.setdefault(term, []).append(Rule(term, tuple(row["operations"].split("|")), row["object"]))
    return {k: tuple(v) for k, v in rules.items()}


def device_words(removal_titles: Iterable[str]) -> frozenset[str]:
    """Words naming devices, from the PCS titles 'Removal of <device> from (on) <body part>': words of the device
    phrases that no body-part phrase uses."""
    devices: set[str] = set()
    parts: set[str] = set()
    for title in removal_titles:
        m = _REMOVAL_TITLE.match(title)
        if m:
            devices.update(q.tokens(m.group(1)))
            parts.update(q.tokens(m.group(2)))
    return frozenset(w for w in devices - parts - q.STOPWORDS if len(w) > 2)


# PCS tables 5A0 and 5A1 are titled by their section, not by their root operations, which are these two.
UNTITLED_ROOTS = ("Assistance", "Performance")


def root_words(first_words: Iterable[str]) -> frozenset[str]:
    """The stems (first STEM letters) of the words PCS table titles begin with, their root operations ('Insertion',
    'Revision', 'Excision'), which claim text shortens ('Insert', 'Revise', 'Excise'). Code titles are not read:
    some begin with a body part ('Breast Milk Collection'), which would take 'breast removal' for PCS wording."""
    return frozenset(w.lower()[:q.STEM] for w in (*first_words, *UNTITLED_ROOTS) if len(w) > 3 and w.isalpha())


class Operations:
    def __init__(self, rules: dict[tuple[str, ...], tuple[Rule, ...]], devices: frozenset[str],
                 roots: frozenset[str] = frozenset()):
        self.rules, self.devices, self.roots = rules, devices, roots
        self.longest = max((len(k) for k in rules), default=0)

    def names_root(self, word: str) -> bool:
        """True for a PCS root operation's name or its claim form ('insertion', 'insert')."""
        return len(word) > 3 and word[:q.STEM] in self.roots

    def is_term(self, words: list[str]) -> bool:
        return self.find(words) is not None

    def find(self, words: list[str]) -> tuple[int, int, tuple[Rule, ...]] | None:
        """The first operation word, except that a looking word ('scope', 'camera') yields to a doing word: in
        'scope to remove a polyp' the scope is the way in and the removal is the operation."""
        forms = [word_form(w) for w in words]
        first = None
        i = 0
        while i < len(words):
            for n in range(min(self.longest, len(words) - i), 0, -1):
                found = self.rules.get(tuple(forms[i:i + n]))
                if found:
                    if not all(r.operations == LOOKING for r in found):
                        return i, n, found
                    first = first or (i, n, found)
                    i += n - 1
                    break
            i += 1
        return first

    def object_of(self, words: list[str]) -> str:
        singular = {w[:-1] if w.endswith("s") else w for w in words} | set(words)
        if singular & MATTER_WORDS:
            return "matter"
        if singular & LUMEN_WORDS:
            return LUMEN
        if singular & self.devices:
            return "device"
        return "body part"

    def read(self, words: list[str], spelt: Mapping[str, str] | None = None) -> Reading | None:
        """`spelt`: words of the query spelt out (claim abbreviations, 'dev' -> 'device'; table terms, 'stent' ->
        'intraluminal device'), so the object they name counts."""
        found = self.find(words)
        if found is None or any(w.endswith("ectomy") for w in words):
            return None  # an '-ectomy' names its operation itself ('nephrectomy, transplant' cuts out; no Transplantation)
        start, length, rules = found
        if start > 0 and self.names_root(words[0]):
            return None  # in PCS's own terms already: 'Insertion of Infusion Device' names no Introduction
        rest = words[:start] + words[start + length:]
        obj = self.object_of(rest + [t for w in rest if spelt and w in spelt for t in q.tokens(spelt[w])])
        if obj == LUMEN and not any(r.object == LUMEN for r in rules):
            obj = "device"  # what is said of any device ('stent removal' is Removal)
        meant = [r for r in rules if r.object in (obj, "any")]
        if not meant:
            return None
        operations = tuple(dict.fromkeys(o for r in meant for o in r.operations))
        others = tuple(dict.fromkeys(o for r in rules if r not in meant for o in r.operations if o not in operations))
        return Reading(start, length, operations, others)


def with_device(reading: Reading, expansions: Iterable[str], operations: "Operations") -> Reading:
    """Putting in a device the query's table term already places by another root operation is that operation:
    'foley catheter placement' is Drainage of the bladder with a drainage device, not an Insertion."""
    if reading.operations[:1] != ("Insertion",):
        return reading
    named = [root for e in expansions
             if "device" in e.split() and not e.startswith("insertion") and (root := _root_named(e, operations))]
    return Reading(reading.start, reading.length, tuple(dict.fromkeys(named)), reading.not_operations) \
        if named else reading


def by_table(reading: Reading, covering: Iterable[str], operations: "Operations") -> Reading:
    """The reading of an operation word inside a table term, which then only steers: toward the root operation the
    term's expansion names when it names one ('wisdom teeth removal' is an Extraction, not an Excision)."""
    named = tuple(dict.fromkeys(root for e in covering if (root := _root_named(e, operations))))
    return Reading(-1, 0, named or reading.operations, reading.not_operations)


def _root_named(expansion: str, operations: "Operations") -> str:
    """The root operation a table expansion begins with, as titles write it ('Extraction'), or ''."""
    first = (expansion.split() or [""])[0]
    return first.capitalize() if operations.names_root(first) else ""


def not_doing(reading: Reading | None, cues: set[str], features: Iterable[str] = ("operations",)) -> tuple[str, ...]:
    """The root operations a query rules out: those of its everyday operation word's other senses, and Inspection
    when it names a scope and something done through it ('colonoscopy with biopsy' is coded as the biopsy, an
    Excision; the look inside is part of it)."""
    if "operations" not in features:
        return ()
    ruled_out = reading.not_operations if reading else ()
    doing = cues & DOING or (reading and set(reading.operations) - set(LOOKING))
    if "inspection" in cues and doing and LOOKING[0] not in ruled_out:
        ruled_out += LOOKING
    return ruled_out
