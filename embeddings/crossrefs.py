"""Wordings ICD-10-CM notes use for another code: 'diarrhea NOS (R19.7)' in an Excludes1 note names R19.7."""
from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Iterable, Mapping

from embeddings.records import Code

# Notes that point at one other code with a phrase a coder would look up. Notes naming a range ('(P35-P39)') or
# several codes are left out: their phrase describes a group, not the code it would be attached to.
POINTING_KINDS = ("excludes1", "excludes2", "code_first", "use_additional", "code_also")
_ONE_CODE = re.compile(r"^(?P<text>.*?)\s*\((?P<code>[A-Z][0-9][0-9A-Z](?:\.[0-9A-Z]{1,4})?)(?:\.-|-)?\)\s*$")
# The instruction around the phrase in 'use additional' and 'code also' notes ('code to identify the type of ...',
# 'if applicable, ...'): words about coding, not about the condition.
_INSTRUCTION = re.compile(r"^(?:code\b,?\s*(?:if applicable,\s*)?(?:to identify|for)?\s*(?:any\s+)?(?:associated\s+)?"
                          r"(?:the\s+)?(?:type of\s+)?|if applicable,?\s*)", re.IGNORECASE)
_TRAILING = re.compile(r",?\s*if applicable\s*$", re.IGNORECASE)
_ANOTHER_CODE = re.compile(r"\([A-Z][0-9][0-9A-Z]")  # 'tobacco use (Z72.0) and dependence (F17.-)' names two
_ABOUT_CODING = re.compile(r"\bcodes?\b|^use\b", re.IGNORECASE)  # 'external cause code to identify ...'
MIN_LENGTH = 3


@dataclass(frozen=True)
class Mention:
    text: str  # the phrase, as the note writes it
    source: str  # the code whose note it is
    kind: str  # the note's kind (excludes1, use_additional, ...)


def comparable(text: str) -> str:
    """Lower case, without punctuation, NOS or unspecified: the form in which two wordings count as the same."""
    words = re.sub(r"[^a-z0-9]+", " ", text.lower()).split()
    return " ".join(w for w in words if w not in ("nos", "unspecified"))


def phrase(note_text: str) -> tuple[str, str] | None:
    """(phrase, code) of a note that names exactly one code, or None."""
    found = _ONE_CODE.match(note_text.strip())
    if not found:
        return None
    text = _TRAILING.sub("", _INSTRUCTION.sub("", found.group("text").strip())).strip(" ,;:")
    if len(text) < MIN_LENGTH or _ABOUT_CODING.search(text) or _ANOTHER_CODE.search(text):
        return None
    return text, found.group("code")


def held_forms(held_out: Mapping[tuple[str, str], frozenset[str]]) -> frozenset[str]:
    """Comparable forms of every held-out term: they stay out wherever they are written."""
    return frozenset(comparable(t) for terms in held_out.values() for t in terms)


def mentions(codes: Iterable[Code], dropped: frozenset[str] = frozenset()) -> dict[tuple[str, str], list[Mention]]:
    """(system, code) -> the phrases other codes' notes use for it, new wording only (not its own title or
    synonyms), first note first; `dropped` holds comparable forms (see `comparable`) that must stay out, such as
    held-out terms."""
    codes = [c for c in codes if c.system == "icd10cm"]
    known = {c.code: {comparable(t) for t in [c.title, *c.notes_of("inclusion"), *c.notes_of("includes")]}
             for c in codes}
    found: dict[tuple[str, str], list[Mention]] = defaultdict(list)
    for source in codes:
        for note in source.notes:
            if note.kind not in POINTING_KINDS:
                continue
            hit = phrase(note.text)
            if hit is None or hit[1] not in known or hit[1] == source.code:
                continue
            text, target = hit
            key = comparable(text)
            if key in known[target] or key in dropped:
                continue
            known[target].add(key)
            found[("icd10cm", target)].append(Mention(text, source.code, note.kind))
    return dict(found)
