"""The ICD-10-PCS approach a query names in everyday words ('keyhole', 'camera down the throat'), read against titles."""
from __future__ import annotations

import re
from typing import Iterable, Mapping

# The approach values of the PCS tables (5th character), as the titles spell them without a trailing 'Approach'.
OPEN = "open"
PERCUTANEOUS = "percutaneous"
PERCUTANEOUS_ENDOSCOPIC = "percutaneous endoscopic"
NATURAL_OPENING = "via natural or artificial opening"
NATURAL_OPENING_ENDOSCOPIC = "via natural or artificial opening endoscopic"
ASSISTED = "via natural or artificial opening with percutaneous endoscopic assistance"
EXTERNAL = "external"
VALUES = frozenset({OPEN, PERCUTANEOUS, PERCUTANEOUS_ENDOSCOPIC, NATURAL_OPENING, NATURAL_OPENING_ENDOSCOPIC,
                    ASSISTED, EXTERNAL})
ENDOSCOPIC = frozenset({PERCUTANEOUS_ENDOSCOPIC, NATURAL_OPENING_ENDOSCOPIC, ASSISTED})

# The approaches as the PCS titles and CMS short descriptions phrase them ('Perc Endo Approach', 'Via Opening'),
# read first so that their words are not read again one by one.
_PHRASES = ((re.compile(r"\bvia (natural or artificial )?opening with percutaneous endoscopic assistance\b"), ASSISTED),
            (re.compile(r"\bvia (natural or artificial )?opening endoscopic\b"), NATURAL_OPENING_ENDOSCOPIC),
            (re.compile(r"\bvia (natural or artificial )?opening\b"), NATURAL_OPENING),
            (re.compile(r"\bpercutaneous endoscopic\b"), PERCUTANEOUS_ENDOSCOPIC),
            (re.compile(r"\bclosed reduction\b"), EXTERNAL),  # set without an incision
            (re.compile(r"\b(shock ?wave|extracorporeal|eswl)\b"), EXTERNAL))  # stones broken from outside the body
# From the PCS definitions of each approach: what the words of a query say about how the site is reached.
# Endoscopy through a body opening ('bronchoscopy', 'cystoscopy') is 'Via Natural or Artificial Opening
# Endoscopic'; through a small incision into a cavity or joint ('laparoscopic', 'arthroscopic') 'Percutaneous
# Endoscopic'; a scope or camera that names neither may be either. 'External' is left out: as a word it names
# body parts far more often (external ear, external iliac artery) than the approach.
_WORDS = {
    OPEN: "open opened",
    PERCUTANEOUS: "percutaneous percutaneously needle transcatheter tavr tavi",  # a valve put in through a catheter
    PERCUTANEOUS_ENDOSCOPIC: """laparoscopic laparoscopically laparoscopy laparoscope thoracoscopic thoracoscopy vats
        arthroscopic arthroscopically arthroscopy arthroscope keyhole mediastinoscopy""",
    NATURAL_OPENING_ENDOSCOPIC: """endoscopy egd esophagogastroduodenoscopy colonoscopy sigmoidoscopy proctoscopy
        proctosigmoidoscopy anoscopy bronchoscopy bronchoscopic cystoscopy cystoscopic cystourethroscopy ureteroscopy
        ureteroscopic hysteroscopy hysteroscopic laryngoscopy esophagoscopy gastroscopy enteroscopy ercp turp turbt""",
    NATURAL_OPENING: "transurethral transvaginal transoral transnasal transanal",
}
SAID = {word: value for value, words in _WORDS.items() for word in words.split()}
# An endoscope that names no way in: either endoscopic approach, or through a body opening when the query says one.
SCOPE_WORDS = frozenset("endoscopic endoscopically endoscope scope scoped scoping camera fiberoptic".split())
OPENING_WORDS = frozenset("""throat mouth nose nostril urethra anus rectum vagina transurethral transvaginal transoral
    transnasal transanal""".split())
# 'open' of a wound or a fracture says what the injury is, not how the surgeon reaches it.
_NOT_APPROACH = re.compile(r"\bopen (wound|fracture|bite|injury|angle)")
_WORD = re.compile(r"[a-z]+")
# Imaging ('endoscopic retrograde pancreatogram', 'CT scan') has no approach axis: the words then name the imaging.
IMAGING_WORDS = frozenset("scan xray ultrasound ultrasonography sonogram mri ct fluoroscopy imaging radiography".split())
IMAGING_SUFFIXES = ("gram", "graphy")


def approaches_of(text: str) -> frozenset[str]:
    """The approach values a query allows, read from its words and their abbreviation and table expansions
    (lower case, one string); empty when they name none."""
    found: set[str] = set()
    said = set(_WORD.findall(text))
    if said & IMAGING_WORDS or any(w.endswith(IMAGING_SUFFIXES) for w in said):
        return frozenset()
    for phrase, named in _PHRASES:
        if phrase.search(text):
            found.add(named)
            text = phrase.sub(" ", text)
    words = set(_WORD.findall(_NOT_APPROACH.sub(" ", text)))  # what is left once the phrases are read
    for word in words:
        value = SAID.get(word)
        if value:
            found.add(value)
        if value == NATURAL_OPENING:  # 'transurethral resection' is done through a scope as often as not
            found.add(NATURAL_OPENING_ENDOSCOPIC)
    if words & SCOPE_WORDS and not found & ENDOSCOPIC:  # a named scope says which ('cystoscopy', 'endoscopic')
        found |= {NATURAL_OPENING_ENDOSCOPIC} if words & OPENING_WORDS else ENDOSCOPIC
    return frozenset(found)


def names_procedure(approaches: frozenset[str]) -> bool:
    """A scope or a way in through a body opening is said only of a procedure ('camera into the bladder')."""
    return bool(approaches) and approaches <= ENDOSCOPIC | {NATURAL_OPENING}


def read_approach(words: list[str], spelt: Mapping[str, str], expansions: Iterable[str],
                  enabled: bool = True) -> tuple[frozenset[str], bool]:
    """(the approaches a query allows, read from its words with abbreviations and table terms spelt out; whether its
    own words name a scope or a body opening, which makes it a procedure query). 'endo' may be spelt 'endoscopic',
    but 'endo metritis' is no procedure."""
    if not enabled:
        return frozenset(), False
    found = approaches_of(" ".join([spelt.get(w, w) for w in words] + [e.lower() for e in expansions]))
    return found, names_procedure(approaches_of(" ".join(words)) & found)


def title_approach(title: str) -> str:
    """The approach a PCS title ends in ('..., Percutaneous Endoscopic Approach' -> 'percutaneous endoscopic'), or
    '' for a title without one (diagnoses, and PCS sections whose 5th character is no approach)."""
    for part in reversed(title.split(", ")):
        value = part.lower().removesuffix(" approach")
        if value in VALUES:
            return value
    return ""
