"""A synonym of one code rewords its parallel codes' titles the same way, near codes only, held-out terms never."""
from embeddings.analogies import near, parallel_wordings, rewrite, words
from embeddings.documents import INHERITING_KINDS, build_documents, synonyms
from embeddings.records import Code, Note


def _cm(code, title, *inclusion, kind="code"):
    return Code("icd10cm", code, title, kind == "code", kind, notes=tuple(Note("inclusion", t) for t in inclusion))


CODES = [
    _cm("I82.46", "Acute embolism and thrombosis of calf muscular vein"),
    _cm("I82.56", "Chronic embolism and thrombosis of calf muscular vein",
        "Chronic embolism and thrombosis of soleal vein"),
    _cm("E11.610", "Type 2 diabetes mellitus with diabetic neuropathic arthropathy",
        "Type 2 diabetes mellitus with Charcot's joints"),
    _cm("E08.610", "Diabetes mellitus due to underlying condition with diabetic neuropathic arthropathy"),
    # the same title words, but neither in E11's category nor its parallel code: no rewording
    _cm("E10.62", "Type 1 diabetes mellitus with diabetic neuropathic arthropathy"),
    _cm("F50.011", "Anorexia nervosa, restricting type, moderate",
        "Anorexia nervosa, restricting type, with a body mass index of 16.0-16.99 kg/m2"),
    _cm("F50.021", "Anorexia nervosa, binge eating/purging type, moderate"),
    _cm("K82.8", "Other specified diseases of gallbladder", "Ulcer of cystic duct or gallbladder"),
    _cm("K82.9", "Disease of gallbladder, unspecified"),
]


def _found(codes=CODES, held_out=None):
    held_out = held_out or {}
    return parallel_wordings(codes, lambda c: synonyms(c, held_out.get((c.system, c.code), frozenset())),
                             INHERITING_KINDS)


def test_a_rewrite_is_the_one_span_the_synonym_says_otherwise():
    title = words("Chronic embolism and thrombosis of calf muscular vein")
    assert rewrite(title, words("Chronic embolism and thrombosis of soleal vein")) == (5, 7, ("soleal",))
    # a rewording of the whole title, or one that only drops words, says nothing of other codes
    assert rewrite(words("Other specified diseases of gallbladder"), words("Ulcer of cystic duct")) is None
    assert rewrite(words("Essential (primary) hypertension"), words("hypertension")) is None


def test_near_codes_share_a_category_or_are_parallel():
    assert near("I82.46", "I82.56") and near("E08.610", "E11.610")
    assert not near("E10.62", "E11.610") and not near("E08.610", "K11.610")


def test_parallel_codes_take_the_rewording():
    found = _found()
    assert found[("icd10cm", "I82.46")] == ["acute embolism and thrombosis of soleal vein"]
    assert found[("icd10cm", "E08.610")] == ["diabetes mellitus due to underlying condition with charcot's joints"]
    assert found[("icd10cm", "F50.021")] == [
        "anorexia nervosa binge eating purging type with a body mass index of 16 0 16 99 kg m2"]
    # not a near code; a whole-title rewording; the code whose synonym it is
    assert {("icd10cm", "E10.62"), ("icd10cm", "K82.9"), ("icd10cm", "I82.56")}.isdisjoint(found)


def test_held_out_synonyms_reword_nothing_and_the_wording_is_searchable_not_embedded():
    held = {("icd10cm", "I82.56"): frozenset({"Chronic embolism and thrombosis of soleal vein"})}
    assert ("icd10cm", "I82.46") not in _found(held_out=held)
    titles = {(c.system, c.code): c.title for c in CODES}
    docs = {d.code: d for d in build_documents(CODES, titles)}
    assert "soleal" in docs["I82.46"].terms and "soleal" not in docs["I82.46"].embed_text
    # generated wording is searchable, never one of the code's official names (a name goes first as 'official name')
    assert not any("soleal" in n for n in docs["I82.46"].names)
    assert docs["I82.56"].names == ("Chronic embolism and thrombosis of soleal vein",)
    held_docs = {d.code: d for d in build_documents(CODES, titles, held)}
    assert "soleal" not in held_docs["I82.46"].terms


def test_excludes_notes_name_a_code_and_instructions_only_word_it():
    from embeddings.crossrefs import Mention
    codes = CODES[:2]
    titles = {(c.system, c.code): c.title for c in codes}
    found = {("icd10cm", "I82.46"): [Mention("calf vein thrombosis", "I80", "excludes1"),
                                      Mention("associated thrombosis", "I26", "code_also"),
                                      Mention("acute embolism and thrombosis of calf muscular vein NOS", "I26",
                                              "use_additional")]}
    doc = {d.code: d for d in build_documents(codes, titles, found=found)}["I82.46"]
    # an instruction that says less than the title names the code only in its note's context
    assert "calf vein thrombosis" in doc.names and "associated thrombosis" not in doc.names
    assert "associated thrombosis" in doc.terms
    assert "acute embolism and thrombosis of calf muscular vein NOS" in doc.names
