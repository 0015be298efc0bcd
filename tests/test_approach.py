"""The PCS approach a query names in everyday words, and how it steers PCS titles."""
from service.search import approach as ap
from service.search import steering
from service.search import understanding as qu

ALL = frozenset(qu.FEATURES)


def test_everyday_words_name_the_approach():
    assert ap.approaches_of("laparoscopic appendectomy") == {ap.PERCUTANEOUS_ENDOSCOPIC}
    assert ap.approaches_of("keyhole gallbladder removal") == {ap.PERCUTANEOUS_ENDOSCOPIC}
    assert ap.approaches_of("open appendectomy") == {ap.OPEN}
    assert ap.approaches_of("needle biopsy of liver") == {ap.PERCUTANEOUS}
    assert ap.approaches_of("colonoscopy with polyp removal") == {ap.NATURAL_OPENING_ENDOSCOPIC}
    assert ap.approaches_of("closed reduction of wrist fracture") == {ap.EXTERNAL}
    assert ap.approaches_of("tavr") == ap.approaches_of("transcatheter valve replacement") == {ap.PERCUTANEOUS}
    assert ap.approaches_of("shock wave treatment for kidney stones") == {ap.EXTERNAL}  # from outside the body
    # A scope names no way in by itself; through a body opening it is the natural-opening endoscopic approach.
    assert ap.approaches_of("knee scope") == ap.ENDOSCOPIC
    assert ap.approaches_of("camera down the throat to look at the stomach") == {ap.NATURAL_OPENING_ENDOSCOPIC}
    # A named scope says which: the table's 'endoscopic' for 'cystoscopy' adds no other endoscopic approach.
    assert ap.approaches_of("cystoscopy with stent placement inspection bladder endoscopic") == {
        ap.NATURAL_OPENING_ENDOSCOPIC}
    assert ap.approaches_of("transurethral resection of prostate") == {ap.NATURAL_OPENING,
                                                                       ap.NATURAL_OPENING_ENDOSCOPIC}


def test_title_phrases_are_read_whole_and_injury_words_are_no_approach():
    # 'percutaneous endoscopic' is one approach, not percutaneous plus any endoscopic one.
    assert ap.approaches_of("bypass l hepatic duct to cbd, percutaneous endoscopic") == {ap.PERCUTANEOUS_ENDOSCOPIC}
    assert ap.approaches_of("drainage of r ear canal, via opening, diagn") == {ap.NATURAL_OPENING}
    assert ap.approaches_of("repair of open wound of scalp") == frozenset()
    assert ap.approaches_of("open fracture of left femur") == frozenset()
    assert ap.approaches_of("closed head injury") == frozenset()
    assert ap.approaches_of("heart attack") == frozenset()
    # Imaging has no approach axis: 'endoscopic' there names the imaging.
    assert ap.approaches_of("pancreatogram, endoscopic retrograde") == frozenset()


def test_title_approach_reads_the_last_approach_of_a_pcs_title():
    assert ap.title_approach("Resection of Gallbladder, Percutaneous Endoscopic Approach") == ap.PERCUTANEOUS_ENDOSCOPIC
    assert ap.title_approach("Inspection of Stomach, Via Natural or Artificial Opening Endoscopic") == (
        ap.NATURAL_OPENING_ENDOSCOPIC)
    assert ap.title_approach("Fusion of Lumbar Vertebral Joint, Posterior Approach, Anterior Column, Open Approach") == (
        ap.OPEN)
    assert ap.title_approach("Ultrasonography of Bladder") == ""
    assert ap.title_approach("Calculus of gallbladder, open approach mentioned nowhere") == ""


def test_a_named_approach_steers_pcs_titles_and_leaves_diagnoses_alone():
    u = qu.Understanding({}, None).understand("camera down the throat to look at the stomach", None, ALL)
    assert u.approaches == {ap.NATURAL_OPENING_ENDOSCOPIC} and u.intent == "icd10pcs"
    agree, why = steering.steer_factor("Inspection of Stomach, Via Natural or Artificial Opening Endoscopic", u,
                                       "0DJ68ZZ", "icd10pcs")
    conflict, _ = steering.steer_factor("Inspection of Stomach, Open Approach", u, "0DJ60ZZ", "icd10pcs")
    silent, _ = steering.steer_factor("Plain Radiography of Stomach", u, "BD02ZZZ", "icd10pcs")
    assert agree > silent == 1.0 > conflict
    assert why == "approach: via natural or artificial opening endoscopic"
    diagnosis, _ = steering.steer_factor("Gastric ulcer, Open Approach", u, "K25.9", "icd10cm")
    assert diagnosis == 1.0
    off = qu.Understanding({}, None).understand("camera down the throat", None, ALL - {"approach"})
    assert not off.approaches and off.intent != "icd10pcs"


def test_an_expanded_abbreviation_steers_but_does_not_make_a_diagnosis_a_procedure():
    # 'endo' spelt out is 'endoscopic', but 'endo metritis' is a diagnosis: only the query's own words make a
    # scope a procedure query, while claim text's 'Perc Endo' still names its approach.
    understanding = qu.Understanding({}, None, {"endo": "endoscopic", "perc": "percutaneous"})
    u = understanding.understand("endo metritis", None, ALL)
    assert u.approaches == ap.ENDOSCOPIC and u.intent != "icd10pcs"
    claim = understanding.understand("Bypass L Hepatic Duct to CBD w Intralum Dev, Perc Endo", None, ALL)
    assert claim.approaches == {ap.PERCUTANEOUS_ENDOSCOPIC}
