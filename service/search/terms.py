"""The curated lay-term and abbreviation table (embeddings/terms/abbreviations.tsv), keyed for matching queries."""
from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Mapping

import embeddings
from service.search import query as q

TABLE = Path(embeddings.__file__).parent / "terms" / "abbreviations.tsv"


# Table matches of a query: word position -> (number of words matched, the entries of that term).
Matches = dict[int, tuple[int, tuple["Entry", ...]]]


@dataclass(frozen=True)
class Entry:
    term: str
    expansion: str
    system: str  # "" means any system


_GREEK_PLURAL = re.compile(r"^[a-z]{3,}[^aeiou][aeoy]ses$")
_ES_PLURAL = re.compile(r"(sses|shes|xes|[^a]ches)$")


def singular(word: str) -> str:
    """The word with a plain English plural ending taken off ('sores' -> 'sore', 'injuries' -> 'injury'), so
    table terms match whichever number the query uses; words in -ss, -us and -is keep their ending, and Greek
    plurals take theirs ('stenoses' -> 'stenosis')."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if _GREEK_PLURAL.search(word):  # 'metastases' -> 'metastasis', 'stenoses' -> 'stenosis' (not 'diseases')
        return word[:-2] + "is"
    if _ES_PLURAL.search(word):  # 'abscesses' -> 'abscess', 'rashes' -> 'rash' (not 'headaches')
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def table_key(words: Iterable[str]) -> tuple[str, ...]:
    return tuple(singular(w) for w in words)


def load_table(path: Path = TABLE) -> dict[tuple[str, ...], tuple[Entry, ...]]:
    """The curated table (term, expansion, system) keyed by the term's singular word tuple."""
    table: dict[tuple[str, ...], list[Entry]] = {}
    with open(path, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            key = table_key(q.tokens(row["term"]))
            if key and row["expansion"].strip():
                system = "" if row["system"] in ("any", "") else row["system"]
                entries = table.setdefault(key, [])
                # Two spellings of one term ('kidney stone', 'kidney stones') keep one copy of what they expand to.
                if all((e.expansion, e.system) != (row["expansion"].strip(), system) for e in entries):
                    entries.append(Entry(row["term"], row["expansion"].strip(), system))
    return {k: tuple(v) for k, v in table.items()}


def inflected(table: Mapping[tuple[str, ...], tuple[Entry, ...]],
              form: Callable[[str], str]) -> dict[tuple[str, ...], tuple[Entry, ...]]:
    """Multi-word table terms keyed by the verb form of each word, so that 'passed out' finds 'passing out'
    and 'throws up' finds 'throwing up'. Single words are left out: 'earring' would read as 'ear'."""
    found: dict[tuple[str, ...], tuple[Entry, ...]] = {}
    for key, entries in table.items():
        if len(key) >= 2:
            k = tuple(form(w) for w in key)
            found[k] = found.get(k, ()) + tuple(e for e in entries if e not in found.get(k, ()))
    return found


def covered(matches: Matches, min_words: int = 1) -> set[int]:
    """Word positions a table term (of at least `min_words` words) already accounts for."""
    return {j for i, (n, _e) in matches.items() if n >= min_words for j in range(i, i + n)}


def for_system(entries: Iterable[Entry], system: str | None) -> tuple[Entry, ...]:
    """The entries that apply to a search of `system` (all of them when no system is asked for)."""
    return tuple(e for e in entries if not system or not e.system or e.system == system)


def joined_compounds(words: list[str], matches: Matches, official: Callable[[str], bool],
                     table: Mapping[tuple[str, ...], tuple[Entry, ...]] | None = None) -> Matches:
    """The matches with two query words that official text writes as one ('gall bladder' -> gallbladder, 'heart
    burn' -> heartburn) as table-like matches, where no table term of two or more words covers either word: the
    compound says more than a one-word term inside it ('heat stroke' is heatstroke, not a stroke). A compound
    that is itself a table term takes its entries ('ear ache' is an earache: otalgia)."""
    taken = covered(matches, 2)
    out = dict(matches)
    for i in range(len(words) - 1):
        a, b = words[i], words[i + 1]
        if {i, i + 1} & taken or not (a.isalpha() and b.isalpha()) or min(len(a), len(b)) < 3:
            continue
        if a in q.STOPWORDS or b in q.STOPWORDS:
            continue
        entries = (table or {}).get((a + b,)) or ((Entry(f"{a} {b}", a + b, ""),) if official(a + b) else ())
        if entries:
            out.pop(i + 1, None)
            out[i] = (2, entries)
            taken |= {i, i + 1}
    return out


_SIDED = {"left": "left", "right": "right", "both": "bilateral", "bilateral": "bilateral"}


def sided(words: list[str], matches: Matches) -> Matches:
    """'left side', 'right-sided', 'both sides' say the laterality and nothing more: table-like matches whose
    expansion is the side as titles write it, so the extra word need not be found in a title."""
    taken = covered(matches)
    return {i: (2, (Entry(f"{words[i]} {words[i + 1]}", _SIDED[words[i]], ""),))
            for i in range(len(words) - 1)
            if words[i] in _SIDED and words[i + 1] in ("side", "sides", "sided") and i + 1 not in taken
            and (i not in taken or matches.get(i, (0, ()))[0] == 1)}  # 'both' alone is a table term too


# Words that may stand between the two words of a table term said apart: 'tubes put in the ears' (ear tubes),
# 'replacement of the left knee' (a side is read from every word of the query all the same), and words of degree
# no ICD-10 title uses ('born too early' is born early: a preterm newborn; 'extremely' is left out, since 'extremely
# low birth weight' is a code of its own).
FILLERS = frozenset("put puts putting placed placing inserted inserting left right bilateral "
                    "too very really so quite pretty bit super".split())
MAX_APART = 3  # words between them at most
_BETWEEN = q.STOPWORDS | FILLERS


def pair_terms(table: Mapping[tuple[str, ...], tuple[Entry, ...]]) -> dict[tuple[str, str], tuple[Entry, ...]]:
    """Two-word table terms keyed by both orders of their words: ('ear', 'tube') and ('tube', 'ear')."""
    found: dict[tuple[str, str], tuple[Entry, ...]] = {}
    for key, entries in table.items():
        if len(key) == 2 and key[0] != key[1] and not set(key) & q.STOPWORDS:
            for k in (key, key[::-1]):
                found[k] = found.get(k, ()) + entries
    return found


def scattered(words: list[str], matches: Matches, pairs: Mapping[tuple[str, str], tuple[Entry, ...]],
              system: str | None) -> Matches:
    """Two-word table terms the query says the other way round or apart, with only function words (or 'put',
    'placed') between: 'stone in the kidney' is a kidney stone, 'pain in the back' back pain. The pair takes the
    place of single-word terms at its two ends; the words between are read as part of it."""
    out = dict(matches)
    free = set(range(len(words))) - covered(matches, 2)
    i = 0
    while i < len(words):
        for j in range(i + 1, min(len(words), i + MAX_APART + 2)):
            if j not in free or (j > i + 1 and words[j - 1] not in _BETWEEN):
                break
            entries = for_system(pairs.get((singular(words[i]), singular(words[j])), ()), system)
            if i in free and entries:  # (side by side in the table's order, the plain lookup found it first)
                for k in range(i, j + 1):
                    out.pop(k, None)
                out[i] = (j - i + 1, entries)
                i = j
                break
        i += 1
    return out


def longest_terms(words: list[str], table: Mapping[tuple[str, ...], tuple[Entry, ...]],
                  inflected_terms: Mapping[tuple[str, ...], tuple[Entry, ...]], form: Callable[[str], str],
                  system: str | None, longest: int) -> Matches:
    """Longest table terms found in the query (as written, or in another form of each word), by start position;
    `longest`: the most words a table term has."""
    found: Matches = {}
    i = 0
    while i < len(words):
        for n in range(min(longest, len(words) - i), 0, -1):
            said = words[i:i + n]
            held = table.get(table_key(said)) or inflected_terms.get(tuple(form(w) for w in said), ())
            entries = for_system(held, system)
            if entries:
                found[i] = (n, entries)
                i += n
                break
        else:
            i += 1
    return found
