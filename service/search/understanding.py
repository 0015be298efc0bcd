"""Query understanding: abbreviation and lay-term expansion, typo correction, laterality and encounter cues."""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Callable, Iterable, Mapping

from embeddings.abbreviations import PART, claim_words, spell_slashes
from service.search import query as q
from service.search import terms
from service.search.approach import read_approach
from service.search.compose import Composer
from service.search.intent import CONDITION_WORDS, PROCEDURE_SUFFIXES, PROCEDURE_WORDS, intent_of
from service.search.morphology import Morphology
from service.search.operations import Operations, Reading, by_table, not_doing, with_device, word_form
from service.search.spelling import Speller
from service.search.steering import asks_unspecified, cause_of, clauses_of, encounter_of, history_of, polarity_of, sides_of
from service.search.terms import Entry, Matches, joined_compounds, longest_terms, scattered
from service.search.terms import covered as _covered

# Each feature can be switched off on its own, so the evaluation can measure what each one adds.
FEATURES = ("expand", "expand_dense", "abbrev", "spell", "spell_dense", "laterality", "encounter", "intent", "operations",
            "rolldown", "claim", "stem_guard", "coverage", "ranker", "anchors", "morphology", "claim_parts", "history",
            "compounds", "poisoning_intent", "new_technology", "defaults", "terms", "families", "approach", "names", "headings",
            "polarity", "compose", "negation")
# Claim text names a 7th character by itself: 'Disp fx of head of r rad, 7thN' is the code ending in N.
_SEVENTH = re.compile(r"^7th([a-z0-9])$")


@dataclass(frozen=True)
class Expansion:
    term: str
    expansion: str

    def __str__(self) -> str:
        return f"{self.term} → {self.expansion}"


@dataclass(frozen=True)
class Correction:
    word: str
    suggestion: str


@dataclass(frozen=True)
class Understood:
    """What the engine searches for: lexical slots, the text to embed, and cues for steering."""
    slots: tuple[tuple[tuple[str, ...], ...], ...]
    any_words: tuple[str, ...]
    dense_text: str
    expansions: tuple[Expansion, ...] = ()
    corrections: tuple[Correction, ...] = ()
    did_you_mean: str | None = None
    sides: frozenset[str] = frozenset()
    encounter: str = ""
    intent: str = ""  # "icd10pcs" when the query asks for a procedure, "icd10cm" when its words say a diagnosis
    operations: tuple[str, ...] = ()  # PCS root operations an everyday word means here ('removal' -> Resection)
    not_operations: tuple[str, ...] = ()  # ... and those it does not mean here (Removal, of a device)
    approaches: frozenset[str] = frozenset()  # PCS approaches the words name ('keyhole' -> percutaneous endoscopic)
    claim_text: bool = True  # a query equal to a code's short description (claim text) finds that code first
    stem_guard: bool = True  # lexical hits holding a form of each query word go before stemmer-only matches
    anchored: bool = True  # the any-word stage matches only documents holding one of its rarest words (bounded cost)
    seventh: str = ""  # the 7th character a claim-style query names ('7thG' -> 'G')
    history: str = ""  # "personal" or "family": the kind of history code the query asks for
    cause: str = ""  # "accidental": a poisoning query that names no intent takes ICD-10-CM's default
    defaults: bool = False  # what the query leaves unsaid takes ICD-10-CM's default (closed, displaced, unspecified)
    synonyms: bool = False  # the meaning path also searches a vector per official synonym (`terms`)
    unspecified: bool = False  # the query says NOS or unspecified: it asks for the code that leaves details unsaid
    polarity: str = ""  # 'low' or 'high': a level the query names, which titles saying the opposite contradict
    stated: frozenset[str] = frozenset()  # words the query says, and those it says 'without' (`negation`):
    negated: frozenset[str] = frozenset()  # a title saying 'without' the one or 'with' the other contradicts it


class Understanding:
    """Turns a parsed query into lexical slots and dense text, using the features asked for.

    `abbreviations` (claim word -> title word, mined at build time) spell out words official text never uses
    ('subdr hem' -> 'subdural hemorrhage'); `official` says whether titles or synonyms use a word as written.
    """

    def __init__(self, table: Mapping[tuple[str, ...], tuple[Entry, ...]], speller: Speller | None,
                 abbreviations: Mapping[str, str] | None = None, official: Callable[[str], bool] = lambda _w: False,
                 operations: Operations | None = None, morphology: Morphology | None = None,
                 conditions: frozenset[str] = frozenset(), composer: Composer | None = None):
        self.table, self.speller, self.operations, self.morphology = table, speller, operations, morphology
        self.composer = composer  # plain words that spell a compound word ('enlarged liver': hepatomegaly)
        self.conditions = conditions  # words that say the query asks for a diagnosis (see intent.intent_of)
        found = dict(abbreviations or {})
        self.abbreviations = {k: v for k, v in found.items() if not k.startswith(PART)}
        self.parts = {k[len(PART):]: v for k, v in found.items() if k.startswith(PART)}
        self.official = official
        self.inflected, self.pairs = terms.inflected(table, word_form), terms.pair_terms(table)
        self.longest = max((len(k) for k in table), default=0)

    def understand(self, text: str, system: str | None, features: frozenset[str],
                   partial_last: bool = False) -> Understood:
        """`partial_last`: the last word may still be being typed, so it can complete a table term."""
        u = self._read(text, system, features, partial_last)
        if not u.corrections:
            return u
        # The corrected query is read again as if typed right, so a corrected word gets its table term, its parts
        # ('hysterectamy' -> hysterectomy: resection of the uterus) and the intent it says.
        fixed = self._read(_replace_words(text, {c.word: c.suggestion for c in u.corrections}), system, features,
                           partial_last)
        return replace(fixed, corrections=u.corrections, did_you_mean=u.did_you_mean,
                       dense_text=fixed.dense_text if "spell_dense" in features else u.dense_text)

    def _read(self, text: str, system: str | None, features: frozenset[str], partial_last: bool) -> Understood:
        text = spell_slashes(text) if "abbrev" in features else text
        words = q.tokens(text)
        seventh = next((m.group(1).upper() for w in words if (m := _SEVENTH.match(w))), "") \
            if "encounter" in features else ""
        if seventh:
            words = [w for w in words if not _SEVENTH.match(w)]
            text = re.sub(r"\b7th[A-Za-z0-9]\b", " ", text)
        matches = scattered(words, longest_terms(words, self.table, self.inflected, word_form, system, self.longest),
                            self.pairs, system) if {"expand", "expand_dense"} & features else {}
        if "claim_parts" in features and self.parts and "," in text:
            matches = self._claim_parts(text, words, matches)
        if "compounds" in features:
            matches = joined_compounds(words, matches, self.official, self.table)
        if "compose" in features and self.composer is not None:
            matches.update(self.composer.matches(words, _covered(matches)))
        if "laterality" in features:
            matches.update(terms.sided(words, matches))
        if partial_last and {"expand", "expand_dense"} & features:
            matches.update(self._completion(words, matches, system))
        spelt = self._abbreviated(words, matches) if "abbrev" in features else {}
        # Lexical search takes the abbreviation or its word either way; the text to embed swaps only words
        # official text never uses as written ('subdr'), never a word that is also a word there ('drain').
        unofficial = {w: e for w, e in spelt.items() if not self.official(w)}
        # A rare compound word is also searched as the plain words of its parts ('nephrolithiasis': kidney calculus).
        parts = self._parts(words, matches, spelt) if self.morphology and "morphology" in features else {}
        corrections = self._corrections(words, matches, {**spelt, **parts}) \
            if self.speller and "spell" in features else {}
        reading = self._operation(words, matches, system, spelt) if "operations" in features else None
        slots, any_words, expansions, i = [], [], [], 0
        while i < len(words):
            if reading and i == reading.start:  # the everyday word or the root operations it means
                said = _content(words[i:i + reading.length])
                slots.append(tuple(dict.fromkeys([said] + [(o.lower(),) for o in reading.operations])))
                any_words += list(said) + [o.lower() for o in reading.operations]
                i += reading.length
                continue
            if i in matches:
                n, entries = matches[i]
                original = _content(words[i:i + n])
                alternatives = [original] + [_content(q.tokens(e.expansion)) for e in entries]
                expansions += [Expansion(" ".join(words[i:i + n]), e.expansion) for e in entries]
                if "expand" in features and not all(alternatives[1:]):
                    pass  # 'w' means 'with': a function word the query need not match, only the dense text says it
                elif "expand" in features:
                    slots.append(tuple(dict.fromkeys(a for a in alternatives if a)))
                    any_words += [w for a in alternatives for w in a]
                elif original:
                    slots.append((original,))
                    any_words += original
                i += n
                continue
            word = words[i]
            i += 1
            if word in q.STOPWORDS:
                continue
            if word in spelt:  # the abbreviation or the word it stands for
                slots.append(((word,), (spelt[word],)))
                any_words += [word, spelt[word]]
                continue
            if word in parts:
                slots.append(((word,),) + parts[word])
                any_words += [word] + [w for reading in parts[word] for w in reading]
                continue
            slots.append(((word,),))
            any_words.append(word)
        spelt_out = [Expansion(w, e) for w, e in spelt.items()]
        spelt_out += [Expansion(w, " or ".join(" ".join(r) for r in rs)) for w, rs in parts.items()]
        cues = set(words) | {w for e in expansions + spelt_out for w in q.tokens(e.expansion)}
        stated, negated = clauses_of(text, spelt) if "negation" in features else (frozenset(), frozenset())
        approaches, scoped = read_approach(words, spelt, [e.expansion for e in expansions], "approach" in features)
        return Understood(
            slots=tuple(s for s in slots if s), any_words=tuple(dict.fromkeys(any_words)),
            dense_text=self._dense_text(_replace_words(text, unofficial) if unofficial else text, expansions, features)
            + (" (" + "; ".join(" ".join(rs[0]) for rs in parts.values()) + ")" if parts else "")
            + (" (" + " or ".join(o.lower() for o in reading.operations) + ")" if reading else ""),
            expansions=(tuple(expansions) if "expand" in features else ()) + tuple(spelt_out),
            corrections=tuple(Correction(w, c) for w, c in corrections.items()),
            did_you_mean=_replace_words(text, corrections) if corrections else None,
            sides=sides_of(cues) if "laterality" in features else frozenset(),
            encounter=encounter_of(words, cues) if "encounter" in features else "",
            history=history_of(cues) if "history" in features else "", cause=cause_of(cues) if "poisoning_intent" in features else "",
            defaults="defaults" in features, synonyms="terms" in features, unspecified=asks_unspecified(words),
            intent=("icd10pcs" if reading or scoped else intent_of(words, matches, self.conditions))
            if "intent" in features and not system else "",
            operations=reading.operations if reading else (), not_operations=not_doing(reading, cues, features),
            approaches=approaches, claim_text="claim" in features, stem_guard="stem_guard" in features, seventh=seventh,
            anchored="anchors" in features, polarity=polarity_of(words) if "polarity" in features else "",
            stated=stated, negated=negated,
        )

    def _operation(self, words: list[str], matches: Matches, system: str | None,
                   spelt: Mapping[str, str]) -> Reading | None:
        """The root operations a procedure query's everyday word means, when no table term already covers it."""
        if self.operations is None or system not in (None, "icd10pcs") or CONDITION_WORDS & set(words):
            return None
        named = {words[i]: " ".join(e.expansion for e in entries) for i, (n, entries) in matches.items() if n == 1}
        if (reading := self.operations.read(words, {**named, **spelt})) is None:  # 'stent': an intraluminal device
            return None
        reading = with_device(reading, [e.expansion for _n, entries in matches.values() for e in entries], self.operations)
        covering = [e for i, (n, entries) in matches.items() for e in entries
                    if i < reading.start + reading.length and reading.start < i + n]
        if covering and all(e.system == "icd10cm" for e in covering):
            return None  # a condition's everyday name ('pulled muscle' is a strain), no procedure
        if covering:
            reading = by_table(reading, [e.expansion for e in covering], self.operations)  # the term says what to search for
        other_signal = any(w in PROCEDURE_WORDS or w.endswith(PROCEDURE_SUFFIXES) for w in words)
        if system != "icd10pcs" and not other_signal and len(words) < 2:
            return None
        return reading

    def _claim_parts(self, text: str, words: list[str], matches: Matches) -> Matches:
        """Comma-separated parts of the query that claim text writes for a longer phrase ('..., Endo'), in place
        of any table term overlapping them."""
        found: Matches = {}
        start = 0
        for part in text.split(","):
            said = q.tokens(part)
            n = len(said)
            spelt = self.parts.get(" ".join(claim_words(part)))
            if spelt and n and words[start:start + n] == said:
                found[start] = (n, (Entry(part.strip(), spelt, ""),))
            start += n
        if not (taken := _covered(found)):
            return matches
        kept = {i: m for i, m in matches.items() if not taken & set(range(i, i + m[0]))}
        return dict(sorted({**kept, **found}.items()))

    def _completion(self, words: list[str], matches: Matches, system: str | None) -> dict[int, tuple[int, tuple[Entry, ...]]]:
        """The table term the query ends in when its unknown last word is the start of the term's last word
        ('heart attac' -> 'heart attack'): the longest such term, then the shortest completion."""
        last = len(words) - 1
        covered = _covered(matches)
        if last < 0 or last in covered or len(words[last]) < 3:
            return {}
        best = None
        for key, entries in self.table.items():
            start = len(words) - len(key)
            if (start < 0 or not key[-1].startswith(words[last]) or terms.table_key(words[start:last]) != key[:-1]
                    or covered & set(range(start, last))):
                continue
            entries = terms.for_system(entries, system)
            rank = (-len(key), len(key[-1]), key)
            if entries and (best is None or rank < best[0]):
                best = (rank, start, len(key), entries)
        # Asked last: whether the word is known may take an index lookup, and most queries end in no term.
        if best is None or (self.speller and self.speller.knows(words[last])):
            return {}
        return {best[1]: (best[2], best[3])}

    def _abbreviated(self, words: list[str], matches: Matches) -> dict[str, str]:
        """Claim abbreviations ('fx', 'unsp', 'subdr', 'drain') among the words no table term covers."""
        covered = _covered(matches)
        return {w: self.abbreviations[w] for j, w in enumerate(words)
                if j not in covered and w in self.abbreviations and w not in q.STOPWORDS}

    def _parts(self, words: list[str], matches: Matches, spelt: Mapping[str, str]) -> dict[str, tuple[tuple[str, ...], ...]]:
        """Plain-word readings of the rare compound words no table term or abbreviation covers."""
        if self.morphology is None:
            return {}
        covered = _covered(matches)
        found = {w: self.morphology.read(w) for j, w in enumerate(words) if j not in covered and w not in spelt}
        return {w: r for w, r in found.items() if r}

    def _corrections(self, words: list[str], matches: Matches, spelt: Mapping[str, object]) -> dict[str, str]:
        covered = _covered(matches)
        out = {}
        for j, word in enumerate(words):
            if j not in covered and word not in spelt:
                fixed = self.speller.correct(word) if self.speller else None
                if fixed and fixed != word and not (self.morphology and
                                                    self.morphology.same_suffix_other_root(word, fixed)):
                    out[word] = fixed
        return out

    @staticmethod
    def _dense_text(text: str, expansions: list[Expansion], features: frozenset[str]) -> str:
        dense = text
        if "expand_dense" in features and expansions:
            dense += " (" + "; ".join(e.expansion for e in expansions) + ")"
        return dense


def _content(words: Iterable[str]) -> tuple[str, ...]:
    return tuple(w for w in words if w not in q.STOPWORDS)


def _replace_words(text: str, corrections: Mapping[str, str]) -> str:
    def swap(m: re.Match) -> str:
        return corrections.get(m.group(0).lower(), m.group(0))
    return re.sub(r"[A-Za-z]+", swap, text)
