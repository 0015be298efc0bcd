"""Which code system a query's words ask for: a procedure (ICD-10-PCS), a diagnosis (ICD-10-CM), or either."""
from __future__ import annotations

from typing import Collection

from service.search.terms import Matches

# Words that name an intervention, so the query asks for an ICD-10-PCS procedure code ...
PROCEDURE_WORDS = frozenset("""surgery operation repair removal remove replacement replace insertion insert implant
implantation transplant transplantation amputation reconstruction fusion biopsy excision resection drainage ablation
bypass graft grafting stent stenting dilation angioplasty catheterization injection infusion transfusion scan imaging
ultrasound mri ct radiography fluoroscopy suture sutures stitches fixation debridement extraction incision ligation
embolization intubation evacuation evacuate placement""".split())
PROCEDURE_SUFFIXES = ("ectomy", "otomy", "ostomy", "plasty", "scopy", "pexy", "rrhaphy", "graphy", "tripsy", "centesis")
# ... unless it also names a condition of or after one ("complication of knee replacement" is a diagnosis).
CONDITION_WORDS = frozenset("""complication complications status history hx rejection failure malfunction dependence
presence absence aftercare infection disorder disease syndrome pain encounter admission screening""".split())
# Of those, the words only ICD-10-CM codes say: 'hemodialysis status' is Z99.2, never a dialysis procedure, and
# 'encounter for chemotherapy' is how chapter 21 titles a reason for care (Z51.11), not the infusion itself.
DIAGNOSIS_WORDS = frozenset("complication complications status history hx rejection malfunction dependence aftercare"
                            " encounter admission screening".split())


# A condition said first and tied by one of these to what it affects is the head of the phrase: 'stenosis of
# colostomy' is a diagnosis, whatever procedure or device the rest names. Beside the index's condition words, words
# for what goes wrong with a stoma, graft or device that procedure text also uses ('obstruction' names a PCS
# qualifier too).
HEAD_LINKS = frozenset("of in at".split())
HEAD_CONDITION_WORDS = frozenset("obstruction blockage bleeding leak erosion migration dislodgement".split())
# A word must begin this many ICD-10-CM titles to count as a condition word: fewer are names ('Down syndrome').
CONDITION_MIN_TITLES = 3


def intent_of(words: list[str], matches: Matches, conditions: Collection[str] = frozenset()) -> str:
    """"icd10pcs", "icd10cm" or "" for the query's words and the table terms found in it. `conditions` are the
    index's condition words (they begin diagnosis titles, no procedure text uses them): a query that names no
    procedure but says one of them ('antithrombin deficiency') asks for a diagnosis."""
    # A term the table reads in both systems ('acl', 'big toe': a ligament, a toe) names no procedure by itself.
    procedure = any(w in PROCEDURE_WORDS or w.endswith(PROCEDURE_SUFFIXES) for w in words) or any(
        any(e.system == "icd10pcs" for e in entries) and not any(e.system == "icd10cm" for e in entries)
        for _n, entries in matches.values())
    said = set(words)
    if len(words) > 2 and words[1] in HEAD_LINKS and (
            words[0] in conditions or words[0] in CONDITION_WORDS or words[0] in HEAD_CONDITION_WORDS):
        return "icd10cm"
    # A diagnosis-only table term says its condition words too ('s/p cabg': s/p is status post, a status code).
    cues = said | {w for _n, entries in matches.values() for e in entries if e.system == "icd10cm"
                   for w in e.expansion.lower().split()}
    if procedure and not CONDITION_WORDS & cues:
        return "icd10pcs"
    # With no procedure named, a word that names a condition ('infection', 'pain', 'failure') asks for a diagnosis too.
    if DIAGNOSIS_WORDS & cues or (not procedure and (not said.isdisjoint(conditions) or CONDITION_WORDS & said)):
        return "icd10cm"
    return ""
