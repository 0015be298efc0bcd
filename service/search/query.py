"""Query parsing: validation, code-shaped input, word tokens and FTS5 expressions."""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from embeddings.records import code_key
from service.errors import QueryError

__all__ = ["QueryError", "ParsedQuery", "parse", "tokens", "STEM", "same_stem"]

# 'without', 'unspecified' and 'other' are not among them: typed, they tell sibling codes apart ("without loss of
# consciousness", "unspecified femur", "other specified injuries").
STOPWORDS = frozenset("""a an and are as at be by for from in into is of on or the to with w/ nos""".split())
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
# A code-shaped token: ICD-10-CM (K92.2, k922, S72.001A), PCS (0DTJ4ZZ, 0DT) or a CPT/HCPCS-like code.
_CODE_LIKE = re.compile(r"^[A-Za-z0-9]{1,3}(\.?[A-Za-z0-9]{0,5})$")


@dataclass(frozen=True)
class ParsedQuery:
    text: str
    words: tuple[str, ...]
    code: str | None


def clean(text: str, max_chars: int) -> str:
    if text is None:
        raise QueryError("the query is empty")
    # NFKC can make one character eighteen ('\ufdfa'), so the limit applies to the normalised text; the raw text
    # is only bounded first so normalising stays cheap.
    if len(text) > 4 * max_chars:
        raise QueryError(f"the query is {len(text)} characters long; the limit is {max_chars}")
    text = unicodedata.normalize("NFKC", text)
    if len(text) > max_chars:
        raise QueryError(f"the query is {len(text)} characters long once normalised; the limit is {max_chars}")
    text = "".join(" " if unicodedata.category(ch)[0] == "C" else ch for ch in text)
    text = " ".join(text.split())
    if not text:
        raise QueryError("the query is empty")
    return text


def looks_like_code(text: str) -> bool:
    """True for input a user types as a code: has a digit, no spaces, code-shaped ('k922', '0DTJ', 'I21.4')."""
    return bool(_CODE_LIKE.match(text)) and any(ch.isdigit() for ch in text)


def tokens(text: str) -> list[str]:
    """Every lower-case word of the text, stopwords included (phrases such as 'water on the knee' need them)."""
    return _WORD.findall(text.lower())


def parse(text: str, max_chars: int = 500) -> ParsedQuery:
    text = clean(text, max_chars)
    words = tuple(w for w in tokens(text) if w not in STOPWORDS)
    code = code_key(text) if looks_like_code(text) else None
    return ParsedQuery(text=text, words=words, code=code)


STEM = 5  # two words match when their first five letters agree ('fractures' ~ 'fracture')


def same_stem(a: str, b: str) -> bool:
    return a[:STEM] == b[:STEM]


def close_forms(a: str, b: str) -> bool:
    """Forms of one word: they agree on their first STEM letters, or all of the shorter one's when it has
    fewer ('burns' ~ 'burn', 'fractured' ~ 'fracture'; not 'fits' ~ 'fitting', which only a stemmer joins)."""
    if a == b:
        return True
    n = min(STEM, len(a), len(b))
    return n >= 3 and a[:n] == b[:n]


class Forms:
    """The words of one text, indexed so `has(word)` answers close_forms against all of them at once."""

    __slots__ = ("words", "short", "prefixes")

    def __init__(self, words: set[str] | frozenset[str]):
        self.words = words
        self.short = {w for w in words if 3 <= len(w) < STEM}
        self.prefixes = {w[:n] for w in words for n in (3, 4, STEM) if len(w) >= n}

    def has(self, word: str) -> bool:
        if word in self.words:
            return True
        if len(word) < 3:
            return False
        if len(word) >= STEM:
            return word[:STEM] in self.prefixes or word[:3] in self.short or word[:4] in self.short
        return word in self.prefixes or word[:3] in self.short


class Asked(dict[str, frozenset[str]]):
    """The words of a query's slots; looked up by any other word, those of them it is a form of (close_forms), none
    for most words. A title's or a text's words are looked up against the query's, each distinct word once a query,
    instead of each text's words being indexed as Forms."""

    __slots__ = ("words", "forms")

    def __init__(self, slots: tuple[tuple[tuple[str, ...], ...], ...]):
        super().__init__()
        self.words = frozenset(w for slot in slots for alternative in slot for w in alternative)
        self.forms = Forms(self.words)

    def __missing__(self, word: str) -> frozenset[str]:
        found = frozenset(w for w in self.words if close_forms(w, word)) if self.forms.has(word) else _NONE
        self[word] = found
        return found


_NONE: frozenset[str] = frozenset()
ASKED_CACHE = 16  # queries kept: one is asked about its ~125 candidates' titles and texts (well under 1 MB in all)


@lru_cache(maxsize=ASKED_CACHE)
def asked(slots: tuple[tuple[tuple[str, ...], ...], ...]) -> Asked:
    """The query words of a query's slots, built once for all its candidates."""
    return Asked(slots)


def fts_phrase(word: str) -> str:
    """A word as an FTS5 string: quotes and control characters (NUL ends SQLite's string) are dropped."""
    return '"' + "".join(ch for ch in word if ch != '"' and ch.isprintable()) + '"'


def fts_expression(words: tuple[str, ...], op: str = "OR", prefix_last: bool = False) -> str:
    """FTS5 MATCH expression from plain words; every word is quoted so user text is never FTS syntax."""
    parts = [fts_phrase(w) for w in words]
    if prefix_last and parts:
        parts[-1] += "*"
    return f" {op} ".join(parts)


def fts_anchored(anchors: tuple[str, ...], rest: tuple[str, ...], prefix: str = "", prefix_anchors: bool = False) -> str:
    """Documents holding any anchor, ranked by every word: `A OR (A AND R)` matches what `A` matches, and BM25 of
    the whole expression still counts the words of `R` (`A` = the anchors OR'ed, `R` = the rest OR'ed). `prefix`,
    an unfinished last word, joins the rest, or the anchors when `prefix_anchors`."""
    a = [fts_phrase(w) for w in anchors]
    r = [fts_phrase(w) for w in rest]
    if prefix:
        (a if prefix_anchors else r).append(fts_phrase(prefix) + "*")
    anchored = "(" + " OR ".join(a) + ")"
    if not r:
        return anchored
    return f"{anchored} OR ({anchored} AND ({' OR '.join(r)}))"


def fts_slots(slots: tuple[tuple[tuple[str, ...], ...], ...]) -> str:
    """AND of slots; a slot is a choice of alternatives, each alternative an AND of words.

    `(("heart", "attack"), ("myocardial", "infarction"))` becomes
    `(("heart" AND "attack") OR ("myocardial" AND "infarction"))`.
    """
    groups = []
    for slot in slots:
        alternatives = ["(" + " AND ".join(fts_phrase(w) for w in alt) + ")" for alt in slot if alt]
        if alternatives:
            groups.append("(" + " OR ".join(alternatives) + ")")
    return " AND ".join(groups)
