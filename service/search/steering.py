"""Steering: a candidate's score raised or lowered by whether its title agrees with the query's laterality,
encounter, history (personal or family), poisoning intent, root operation, named 7th character and ICD-10-CM's
defaults for what the query leaves unsaid."""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Iterable, Mapping

from embeddings.abbreviations import spell_slashes
from service.search import coverage, terms
from service.search import query as q
from service.search.approach import title_approach

if TYPE_CHECKING:
    from service.search.understanding import Understood

# Fused scores of candidates whose laterality or encounter contradicts the query are multiplied by
# CONFLICT; those that agree by AGREE. Only the top STEER_DEPTH candidates are looked at.
CONFLICT, AGREE, STEER_DEPTH = 0.5, 1.2, 60
# A query that names no encounter gets the initial-encounter code (active treatment) ahead of its siblings for
# later encounters, which are only lowered by LATER; so are delayed healing, nonunion and malunion when a subsequent
# encounter names no healing.
UNSTATED, LATER = "unstated", 0.9
# A PCS title whose approach the query's words name ('keyhole', 'camera down the throat') goes up; one whose approach
# they rule out goes down, as for a side (1.2 / 0.5 measured best of 1.2 / 0.9, 1.2 / 0.5 and 1.1 / 1.0 on the
# training sets).
APPROACH_AGREE, APPROACH_CONFLICT = AGREE, CONFLICT
SIDE_WORDS = {"left": "left", "right": "right", "bilateral": "bilateral", "bilat": "bilateral", "both": "bilateral"}
UNSPECIFIED_WORDS = frozenset({"nos", "unspecified", "unsp", "unspec"})
_TITLE_SIDE = re.compile(r"\b(left|right|bilateral)\b", re.I)
_TITLE_ENCOUNTER = re.compile(r"\b(initial encounter|subsequent encounter|sequela)\b", re.I)
_ENCOUNTER_OF_TITLE = {"initial encounter": "initial", "subsequent encounter": "subsequent", "sequela": "sequela"}
# A subsequent encounter for a fracture that names no healing is coded with routine healing (7th character D).
_TITLE_HEALING = re.compile(r"\b(delayed healing|nonunion|malunion)\b", re.I)
_HEALING_WORDS = re.compile(r"\b(delayed|nonunion|non-union|malunion|mal-union|union|routine|healing)\b")
# ICD-10-CM's defaults for what a record leaves unsaid (guideline I.C.19.c.1): a fracture not called open or closed
# is coded closed, one not called displaced or nondisplaced is coded displaced. A query that says no more than an
# 'Other ...' title says asks for the unspecified code: 'Other' codes are for kinds named but classified nowhere else.
_TITLE_OPEN = re.compile(r"\bopen fracture\b", re.I)
_OPEN_WORDS = re.compile(r"\b(open|compound)\b")
_TITLE_NONDISPLACED = re.compile(r"\bnondisplaced\b", re.I)
_NONDISPLACED_WORDS = re.compile(r"\b(nondisplaced|non-displaced|non displaced|undisplaced)\b")
# A fracture is coded as an injury unless the record calls it pathological, a stress fracture or one of a disease
# (the Index's 'Fracture, traumatic' is the main entry; 'Fracture, pathological' a subterm).
_TITLE_NOT_INJURY = re.compile(r"\b(pathological|stress|fatigue) fracture\b", re.I)
_NOT_INJURY_WORDS = re.compile(r"\b(path\w*|stress|fatigue|insufficiency|fragility|osteoporo\w*|neoplastic|"
                               r"metasta\w*|malignan\w*|cancer|tumou?r|disease|march|osteopeni\w*)\b")
# A condition is classified to pregnancy (chapter 15) or the newborn (chapter 16) only when the record says so.
_TITLE_MATERNAL = re.compile(r"\b(pregnancy|childbirth|puerperium|delivery|trimester|postpartum|obstetric|newborn|"
                             r"neonatal|perinatal|fetus|birth)\b", re.I)
_MATERNAL_WORDS = re.compile(r"\b(pregnan\w*|gestation\w*|trimester|obstetric\w*|antepartum|postpartum|puerper\w*|"
                             r"deliver\w*|childbirth|labou?r|prenatal|maternal|newborns?|neonat\w*|perinatal|bab(y|ies)|"
                             r"infants?|fetus|fetal|birth|premature|preemie)\b")
_TITLE_OTHER = re.compile(r"^other\b(?! and unspecified)|\bother specified\b", re.I)
_OTHER_WORDS = re.compile(r"\b(other|specified)\b")
OTHER_MAX_WORDS = 3
_TITLE_HISTORY = re.compile(r"\b(personal|family) history\b", re.I)
# A manifestation code ('... in diseases classified elsewhere') is listed after the disease that causes it; a query
# that names no underlying disease ('in', 'due to', 'elsewhere') asks for the condition itself.
_TITLE_MANIFESTATION = re.compile(r"\bclassified elsewhere\b", re.I)
_MANIFESTATION_WORDS = re.compile(r"\b(in|due|elsewhere|from|because|secondary)\b")
# A level the query calls low is not one a title calls raised, and the other way round: 'low white blood count' is no
# 'Elevated white blood cell count', 'high calcium' no 'Dietary calcium deficiency', 'low oxygen' no 'Hyperbaric
# Oxygenation'. Hyper-/hypo- words that name a place ('Hypogastric Vein') say no level.
LOW_WORDS = frozenset("low decreased reduced underactive deficient".split())
HIGH_WORDS = frozenset("high elevated increased raised overactive excess excessive".split())
_PLACES = r"(?!gastric|glossal|phys|thalam|pharyn|thenar)"
# A title's 'with' or 'without' clause, to the next comma or clause: 'without perforation or abscess'.
_TITLE_CLAUSE = re.compile(r"\b(with|without)\b((?:(?!\bwith(?:out)?\b)[^,;])*)")
_GENERIC = frozenset({"other", "unspecified", "specified", "mention", "nos", "and", "or", "not"})
_TITLE_LEVEL = {"low": re.compile(rf"\b(?:elevated|increased|high|excess\w*|hyper{_PLACES}\w+)", re.I),
                "high": re.compile(rf"\b(?:decreased|reduced|low|deficien\w*|hypo{_PLACES}\w+)", re.I)}
# A record that names no side is coded to the unspecified side (ICD-10-CM has one beside most sided codes); words
# where 'left' or 'right' names a part of the body, not the side of a paired one, are no side. The query's own
# words are read too, so a side named in words laterality does not read (claim text's 'rt', 'l') still counts.
_SIDE_WORDS = re.compile(r"\b(" + "|".join([*SIDE_WORDS, "lt", "rt", "l", "r"]) + r")\b")
_TITLE_ANATOMIC_SIDE = re.compile(r"\b(left|right)[ -](ventric\w*|atri\w*|bundle|heart|main|coronary|anterior descending|"
                                  r"circumflex|sided|lobe|colon|colic|hepatic duct|lower quadrant|upper quadrant|"
                                  r"shift)\b", re.I)
# T36-T65 titles end in the intent: 'Poisoning by ..., accidental (unintentional)', '..., assault'.
_TITLE_CAUSE = re.compile(r", (accidental \(unintentional\)|intentional self-harm|assault|undetermined)(?=,|$)", re.I)
# Venom's effects are toxic effects too ('bee sting' is T63.44-, accidental unless the query says otherwise).
POISON_WORDS = frozenset("poisoning poisoned poison toxic toxicity overdose overdosed venom venomous sting stung".split())
CAUSE_WORDS = frozenset("""accidental accident accidentally unintentional intentional intentionally self harm suicide
suicidal assault assaulted homicide homicidal undetermined""".split())


def encounter_of(words: list[str], cues: set[str]) -> str:
    """The encounter a query names: 'initial', 'subsequent', 'sequela', or UNSTATED."""
    joined = " ".join(words)
    # 'init', 'subs' and 'sqla' are how every CMS short description says it, mined abbreviations or not.
    if cues & {"sequela", "sequelae", "sqla"} or "late effect" in joined:
        return "sequela"
    if cues & {"subsequent", "subs", "followup"} or "follow up" in joined or "follow-up" in joined:
        return "subsequent"
    if cues & {"initial", "init"}:
        return "initial"
    return UNSTATED


def sides_of(cues: set[str]) -> frozenset[str]:
    """The sides a query names: 'left', 'right', 'bilateral' ('both' and 'bilat' are bilateral)."""
    return frozenset(SIDE_WORDS[w] for w in cues if w in SIDE_WORDS)


def asks_unspecified(words: list[str]) -> bool:
    """True when the query says NOS or unspecified: it asks for the code that leaves details out (ICD-10-CM reads
    NOS, 'not otherwise specified', as unspecified)."""
    return not UNSPECIFIED_WORDS.isdisjoint(words)


def history_of(cues: set[str]) -> str:
    """'family' or 'personal' for a query asking for a history code, '' otherwise: ICD-10-CM reads a bare
    'history of' as the patient's own ('history of stroke' is a personal history, not a family one)."""
    if "history" not in cues:
        return ""
    return "family" if "family" in cues else "personal"


def cause_of(cues: set[str]) -> str:
    """'accidental' for a poisoning or toxic-effect query that names no intent: ICD-10-CM codes an unstated intent
    as accidental, and self-harm, assault or undetermined only when documented."""
    return "accidental" if cues & POISON_WORDS and not cues & CAUSE_WORDS else ""


@dataclass(frozen=True)
class _Said:
    """Which of the defaults' cue words a query's text says (read once a query, not once a candidate)."""
    open: bool
    nondisplaced: bool
    not_injury: bool
    maternal: bool
    side: bool
    other: bool
    manifestation: bool


@lru_cache(maxsize=256)
def _said(text: str) -> _Said:
    return _Said(*(bool(p.search(text)) for p in (_OPEN_WORDS, _NONDISPLACED_WORDS, _NOT_INJURY_WORDS,
                                                   _MATERNAL_WORDS, _SIDE_WORDS, _OTHER_WORDS,
                                                   _MANIFESTATION_WORDS)))


def default_factor(title: str, understood: "Understood", system: str = "") -> float:
    """LATER for a title that departs from ICD-10-CM's default in what the query leaves unsaid (open fracture,
    nondisplaced fracture, a pathological or stress fracture, a history code, one of pregnancy or the newborn, a
    manifestation code, a side the query does not name, an 'Other ...' code for a query its title fully covers); 1.0 otherwise."""
    said = _said(understood.dense_text.lower())
    factor = 1.0
    if not understood.seventh:  # a named 7th character says open or closed itself
        if _TITLE_OPEN.search(title) and not said.open:
            factor *= LATER
        if _TITLE_NONDISPLACED.search(title) and not said.nondisplaced:
            factor *= LATER
    if _TITLE_NOT_INJURY.search(title) and not said.not_injury:
        factor *= LATER
    if not understood.history and _TITLE_HISTORY.search(title):  # a condition is current unless called history
        factor *= LATER
    if _TITLE_MATERNAL.search(title) and not said.maternal:
        factor *= LATER
    if _TITLE_MANIFESTATION.search(title) and not said.manifestation:
        factor *= LATER
    if (not system.endswith("pcs") and not understood.sides and not said.side
            and _TITLE_SIDE.search(title) and not _TITLE_ANATOMIC_SIDE.search(title)):
        factor *= LATER
    # Only a short query (claim text leaves 'other' out: 'Mech compl of permanent sutures' is 'Other mechanical
    # ...'), and only diagnoses: a PCS 'Other ...' title is no sibling of an unspecified code.
    if (not system.endswith("pcs") and _TITLE_OTHER.search(title) and 0 < len(understood.slots) <= OTHER_MAX_WORDS
            and not said.other):
        if coverage.shares(title, understood.slots)[0] >= 1.0:
            factor *= LATER
    return factor


def clauses_of(text: str, spelt: Mapping[str, str]) -> tuple[frozenset[str], frozenset[str]]:
    """The words the query states and those it says 'without' (to the next comma or 'with'), claim abbreviations
    spelt out: 'placenta previa w/o hemor' says previa, placenta and not hemorrhage."""
    stated: set[str] = set()
    negated: set[str] = set()
    for part in re.split(r"[,;]", spell_slashes(text.lower())):
        into = stated
        for word in q.tokens(part):
            if word in ("with", "w", "without", "wo"):
                into = negated if word in ("without", "wo") else stated
            elif word not in q.STOPWORDS and word not in _GENERIC:
                into.update(terms.singular(w) for w in q.tokens(spelt.get(word, word)))
    return frozenset(stated), frozenset(negated)


def contradicts(title: str, stated: frozenset[str], negated: frozenset[str]) -> bool:
    """True when the title says 'without' something the query states, or 'with' something it says it is without
    ('Pilonidal sinus without abscess' for 'coccygeal fistula with abscess')."""
    for kind, words in _clause_items(title):
        said = negated if kind == "with" else stated
        if said and all(any(_same_word(w, s) for s in said) for w in words):  # 'without heart failure': both words
            return True
    return False


@lru_cache(maxsize=65536)
def _clause_items(title: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """A title's 'with' and 'without' items, each as its words ('without perforation or abscess': two items)."""
    found = []
    for kind, clause in _TITLE_CLAUSE.findall(title.lower()):
        for item in re.split(r"\b(?:or|and)\b", clause):
            words = tuple(terms.singular(w) for w in q.tokens(item) if w not in q.STOPWORDS and w not in _GENERIC)
            if words:
                found.append((kind, words))
    return tuple(found)


def _same_word(a: str, b: str) -> bool:
    """One word in two forms ('perforation', 'perforated'), not two words that share a start ('migraine',
    'migrainosus')."""
    return a == b or (len(a) >= 6 and a[:6] == b[:6] and abs(len(a) - len(b)) <= 2)


def polarity_of(words: Iterable[str]) -> str:
    """'low' or 'high' when the query's own words call a level one of those (and not both), else ''."""
    said = set(words)
    low, high = bool(said & LOW_WORDS), bool(said & HIGH_WORDS)
    return "low" if low and not high else "high" if high and not low else ""


def steer_factor(title: str, understood: "Understood", code: str = "", system: str = "") -> tuple[float, str]:
    """Score multiplier and reason for a candidate, given the query's laterality, history, poisoning intent,
    encounter (named or not), root operation, named 7th character and coding defaults (`system`: the candidate's)."""
    factor, reasons = 1.0, []
    if understood.seventh and code:
        key = code.replace(".", "")
        if len(key) == 7 and key[6] == understood.seventh:
            factor *= AGREE
            reasons.append(f"7th character {understood.seventh}")
        else:
            factor *= CONFLICT
    if understood.operations or understood.not_operations:
        if title.startswith(tuple(o + " " for o in understood.operations)):
            factor *= AGREE
            reasons.append("operation: " + title.split(" ", 1)[0])
        elif title.startswith(tuple(o + " " for o in understood.not_operations)):
            factor *= CONFLICT
    if understood.approaches and system.endswith("pcs"):
        approach = title_approach(title)
        if approach in understood.approaches:
            factor *= APPROACH_AGREE
            reasons.append("approach: " + approach)
        elif approach:
            factor *= APPROACH_CONFLICT
    if understood.polarity and _TITLE_LEVEL[understood.polarity].search(title):
        factor *= CONFLICT
    if (understood.stated or understood.negated) and contradicts(title, understood.stated, understood.negated):
        factor *= CONFLICT
    if understood.sides:
        sides = {s.lower() for s in _TITLE_SIDE.findall(title)}
        if sides & understood.sides:
            factor *= AGREE
            reasons.append("side: " + ", ".join(sorted(sides & understood.sides)))
        elif sides:
            factor *= CONFLICT
    if understood.history:
        kinds = {m.lower() for m in _TITLE_HISTORY.findall(title)}
        if understood.history in kinds:
            factor *= AGREE
            reasons.append(f"history: {understood.history}")
        elif kinds:
            factor *= CONFLICT
    if understood.cause:
        found = _TITLE_CAUSE.search(title)
        if found and found.group(1).lower().startswith(understood.cause):
            factor *= AGREE
            reasons.append("intent: accidental, the default")
        elif found:
            factor *= CONFLICT
    if understood.defaults:
        factor *= default_factor(title, understood, system)
    said = title_encounters(title)
    if understood.encounter == UNSTATED and not understood.seventh:
        if said and "initial" not in said:
            factor *= LATER
    elif understood.encounter:
        if understood.encounter in said:
            factor *= AGREE
            reasons.append(f"encounter: {understood.encounter}")
            if (understood.encounter == "subsequent" and _TITLE_HEALING.search(title)
                    and not _HEALING_WORDS.search(understood.dense_text.lower())):
                factor *= LATER
        elif said:
            factor *= CONFLICT
    return factor, "; ".join(reasons)


def title_encounters(title: str) -> set[str]:
    """The encounters a title names: {'initial'}, {'subsequent'}, {'sequela'}, or none."""
    return {_ENCOUNTER_OF_TITLE[m.lower()] for m in _TITLE_ENCOUNTER.findall(title)}
