"""Claim abbreviations ('subdr' -> 'subdural') learned by aligning CMS short descriptions with their titles."""
from __future__ import annotations

import difflib
import hashlib
import json
import re
from collections import Counter, defaultdict
from pathlib import Path
from typing import Iterable, Iterator

from embeddings import files
from embeddings.records import Code

MIN_SUPPORT = 3  # an abbreviation must be seen spelt out this many times ...
MIN_SHARE = 0.6  # ... and mean the same word in this share of them
MIN_SHARE_ONE_LETTER = 0.9  # 'r' and 'l' stand for right and left; a one-letter word must be near certain
_WORD = re.compile(r"[a-z0-9]+")
# Whole comma-separated parts of claim text that stand for a longer phrase of the title ('..., Endo' is the
# approach 'Via Natural or Artificial Opening Endoscopic', not any endoscopic one). Stored beside the word
# abbreviations, keyed with this mark in front so a part never reads as a word.
PART = ", "
MIN_PART_SUPPORT = 20
MIN_PART_SHARE = 0.9


def claim_words(text: str) -> list[str]:
    """Lower-case words of claim text, with the slash forms spelt out ('w/o' -> 'without', 'w/' -> 'with')."""
    return _WORD.findall(spell_slashes(text.lower()))


def spell_slashes(text: str) -> str:
    return re.sub(r"\bw/(?!o\b)", " with ", re.sub(r"\bw/o\b", " without ", text, flags=re.I), flags=re.I)


def pairs(codes: Iterable[Code], dropped: dict[tuple[str, str], frozenset[str]] | None = None
          ) -> Iterator[tuple[str, str]]:
    """(short, title) of every code with a short description that is not held out for evaluation."""
    dropped = dropped or {}
    for c in codes:
        if c.short and c.short.lower() != c.title.lower() and c.short not in dropped.get((c.system, c.code), ()):
            yield c.short, c.title


def mine_cached(found: Iterable[tuple[str, str]], cache_dir: Path) -> dict[str, str]:
    """`mine` of the pairs, read from the cache when these exact pairs were mined before (it takes 9 s of a
    rebuild); the cache file is named by a digest of the pairs and of this module."""
    pairs_list = sorted(found)
    h = hashlib.sha256(Path(__file__).read_bytes())
    for short, title in pairs_list:
        h.update(f"{short}\t{title}\n".encode())
    path = files.cache_file(cache_dir, "abbreviations", h.hexdigest(), ".json")
    try:
        return dict(json.loads(path.read_text()))
    except (OSError, ValueError):
        pass
    table = mine(pairs_list)
    files.replace_from(lambda tmp: tmp.write_text(json.dumps(table, sort_keys=True)), path)
    return table


def mine(found: Iterable[tuple[str, str]], min_support: int = MIN_SUPPORT) -> dict[str, str]:
    """Abbreviation -> the title word it stands for, for words that titles themselves (almost) never use; and the
    claim parts (`parts`) beside them."""
    found = list(found)  # read twice: word alignment, then whole parts
    meanings: dict[str, Counter[str]] = defaultdict(Counter)
    title_words: Counter[str] = Counter()
    for short, title in found:
        words = claim_words(title)
        title_words.update(set(words))
        for abbreviation, word in aligned(claim_words(short), words):
            meanings[abbreviation][word] += 1
    table = parts(found, min_support * MIN_PART_SUPPORT // MIN_SUPPORT)
    for abbreviation, counts in meanings.items():
        word, n = counts.most_common(1)[0]
        share = n / sum(counts.values())
        needed = MIN_SHARE_ONE_LETTER if len(abbreviation) == 1 else MIN_SHARE
        if n >= min_support and share >= needed and title_words[abbreviation] * 10 < n:
            table[abbreviation] = word
    return dict(sorted(table.items()))


def parts(found: Iterable[tuple[str, str]], min_support: int = MIN_PART_SUPPORT) -> dict[str, str]:
    """PART + claim part -> the title part it always stands for, where the two texts have as many comma-separated
    parts and this one is spelt out in more words than the claim writes ('perc endo' -> 'percutaneous endoscopic
    approach'); claim parts a title also uses as written are left out."""
    meanings: dict[str, Counter[str]] = defaultdict(Counter)
    title_parts: Counter[str] = Counter()
    for short, title in found:
        a, b = _parts(short), _parts(title)
        title_parts.update(b)
        if len(a) == len(b):
            for mine, spelt in zip(a, b):
                if mine and mine != spelt and len(spelt.split()) > len(mine.split()):
                    meanings[mine][spelt] += 1
    table = {}
    for mine, counts in meanings.items():
        spelt, n = counts.most_common(1)[0]
        if n >= min_support and n >= MIN_PART_SHARE * sum(counts.values()) and title_parts[mine] * 10 < n:
            table[PART + mine] = spelt
    return table


def _parts(text: str) -> list[str]:
    return [" ".join(claim_words(part)) for part in text.split(",")]


def aligned(short: list[str], title: list[str]) -> Iterator[tuple[str, str]]:
    """Pairs (short word, title word) where the short form abbreviates the title word.

    Words both texts share anchor the alignment; in a gap of equal length the words pair up in order when
    their first letters agree ('fx' ~ 'fracture'); in an unequal gap a short word pairs with the next title
    word it is a letter-subsequence of ('init' ~ 'initial' in 'initial encounter for closed fracture').
    """
    matcher = difflib.SequenceMatcher(a=short, b=title, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag != "replace":
            continue
        gap, words = short[i1:i2], title[j1:j2]
        if len(gap) == len(words):
            yield from ((a, b) for a, b in zip(gap, words) if _abbreviates(a, b, strict=False))
            continue
        start = 0
        for a in gap:
            for k in range(start, len(words)):
                if _abbreviates(a, words[k], strict=True):
                    yield a, words[k]
                    start = k + 1
                    break


def _abbreviates(short: str, word: str, strict: bool) -> bool:
    if short == word or len(short) >= len(word) or short[0] != word[0] or not short.isalpha() or not word.isalpha():
        return False
    if not strict:
        return True
    letters = iter(word)
    return all(ch in letters for ch in short)
