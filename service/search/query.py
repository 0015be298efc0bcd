"""Query parsing: validation, code-shaped input, word tokens and FTS5 expressions."""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from embeddings.records import code_key
from service.errors import QueryError

__all__ = ["QueryError", "ParsedQuery", "parse", "tokens", "STEM", "stem"]

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
    every = tokens(text)
    if not every:  # '!!!' or an emoji: the meaning path would still return its nearest codes, all of them noise
        raise QueryError(f"the query {text[:40]!r} has no letters (a-z) or digits to search for")
    words = tuple(w for w in every if w not in STOPWORDS)
    code = code_key(text) if looks_like_code(text) else None
    return ParsedQuery(text=text, words=words, code=code)


STEM = 5  # two words match when their first five letters agree ('fractures' ~ 'fracture')
# A word opening with one of these prefixes and long enough to inflect past it is told apart by four more letters
# than the prefix: 'hypertension' and 'hyperthyroidism', 'hemorrhage' and 'hemorrhoids', 'dysphagia' and
# 'dysphasia' share their first five. (Combining forms such as osteo-, gastro-, neuro- were measured as well and
# left out: ranker validation MRR@10 0.698 against 0.701 with these alone.)
PREFIXES = ("hyper", "inter", "intra", "trans", "supra", "infra", "retro", "micro", "macro", "multi", "hypo", "hemo",
            "hema", "hemi", "dys")
PAST_PREFIX = 4  # letters past the prefix that must agree
INFLECTS = 2  # a word must run this many letters beyond them for the prefix to count ('dyspnea' ~ 'dyspneic')
# Endings that make another concept of the same root ('esophagitis' is no form of 'esophageal', 'arthrosis' none of
# 'arthritis', 'appendectomy' none of 'appendix'); a family's first ending stands for the others ('thrombotic' is
# a form of 'thrombosis').
SUFFIXES = (("itis", "itides", "itic"), ("osis", "otic"), ("lysis", "lytic"), ("ectomy", "ectomies"),
            ("ostomy", "ostomies"), ("otomy", "otomies"), ("scopy", "scopies", "scope", "scopic"),
            ("plasty", "plasties"), ("desis",), ("algia",), ("pathy", "pathies", "pathic"), ("uria",),
            ("emia", "emic"), ("oma", "omata", "omatous"), ("ectasis", "ectases"), ("megaly",), ("rrhaphy",))
SUFFIXED = 7  # shorter words carry no ending of SUFFIXES ('coma', 'noses', 'anemia' ~ 'anemic')
_ENDINGS = sorted(((end, forms[0]) for forms in SUFFIXES for end in forms), key=lambda e: -len(e[0]))


@lru_cache(maxsize=65536)
def _split(word: str) -> tuple[str, str]:
    """The word without its SUFFIXES ending, and the ending's family; a plural's too ('antibiotics')."""
    if len(word) >= SUFFIXED:
        for form in (word, word[:-1]) if word.endswith("s") else (word,):
            for end, family in _ENDINGS:
                if form.endswith(end):
                    return form[:-len(end)], family
    return word, ""


def ending(word: str) -> str:
    """The SUFFIXES family a word ends in ('itis' for 'esophagitis' and 'arthritic'), '' for none."""
    return _split(word)[1]


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """What the forms of one word share: the first STEM letters (PAST_PREFIX past a PREFIXES prefix) and the ending's
    family ('fractures', 'fractured' -> 'fract'; 'esophagitis' -> 'esoph-itis'; 'thrombotic' -> 'throm-osis';
    'hypertensive' -> 'hypertens')."""
    root, family = _split(word)
    base = root + family if family else word
    n = STEM
    for prefix in PREFIXES:
        if base.startswith(prefix) and len(base) >= len(prefix) + PAST_PREFIX + INFLECTS:
            n = len(prefix) + PAST_PREFIX
            break
    return base[:n] + "-" + family if family else base[:n]


def close_forms(a: str, b: str) -> bool:
    """Forms of one word: they share their stem, or the shorter one (under STEM letters) begins the other and
    neither carries an ending of SUFFIXES ('burns' ~ 'burn', 'fractured' ~ 'fracture'; not 'fits' ~ 'fitting',
    which only a stemmer joins; not 'gastric' ~ 'gastritis')."""
    if a == b:
        return True
    if len(a) >= STEM and len(b) >= STEM:
        return stem(a) == stem(b)
    n = min(len(a), len(b))
    return n >= 3 and a[:n] == b[:n] and not ending(a) and not ending(b)


class Forms:
    """The words of one text, indexed so `has(word)` answers close_forms against all of them at once."""

    __slots__ = ("words", "short", "stems", "prefixes")

    def __init__(self, words: set[str] | frozenset[str]):
        self.words = words
        self.short = {w for w in words if 3 <= len(w) < STEM}
        self.stems = {stem(w) for w in words if len(w) >= STEM}
        # What a shorter word may begin: words of no SUFFIXES ending, the short ones too.
        self.prefixes = {w[:n] for w in words if not ending(w) for n in (3, 4) if len(w) > n}

    def has(self, word: str) -> bool:
        if word in self.words:
            return True
        if len(word) < 3:
            return False
        if len(word) >= STEM:
            return stem(word) in self.stems or (not ending(word) and (word[:3] in self.short
                                                                       or word[:4] in self.short))
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
