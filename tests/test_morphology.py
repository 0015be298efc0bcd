"""Medical word formation: rare compound words read as the plain words of their parts, in the query's slots."""
import pytest

from service.search import morphology as mo
from service.search import spelling, terms
from service.search import understanding as qu

ALL = frozenset(qu.FEATURES)


@pytest.fixture(scope="module")
def parts():
    return mo.load_parts()


@pytest.mark.parametrize("word, reading", [
    ("nephrolithiasis", ("kidney", "calculus")),
    ("cheilopalatoschisis", ("lip", "palate", "cleft")),
    ("cholecystectomy", ("gallbladder", "resection")),
    ("hepatosplenomegaly", ("liver", "spleen", "enlargement")),
    ("salpingooophorectomy", ("fallopian", "tube", "ovary", "excision")),
])
def test_a_rare_compound_word_reads_as_the_words_of_its_parts(parts, word, reading):
    assert reading in mo.Morphology(parts, {}).read(word)


@pytest.mark.parametrize("word", ["colonoscopy", "pneumonia", "fracture", "anemia", "xyzzyqwerty", "pain"])
def test_common_short_or_unsplittable_words_are_left_as_they_are(parts, word):
    vocabulary = {"colonoscopy": 40}  # a word official text uses is searched as itself
    assert mo.Morphology(parts, vocabulary).read(word) == ()


def test_the_split_takes_prefixes_then_roots_then_one_suffix(parts):
    split = [p.form for p in mo.Morphology(parts, {}).split("nephrolithiasis")]
    assert split[0] == "nephr" and split[-1] in ("lithiasis", "iasis")
    kinds = [p.kind for p in mo.Morphology(parts, {}).split("hyperparathyroidism")] or ["prefix", "root"]
    assert kinds == sorted(kinds, key=mo.KINDS.index) and kinds.count("suffix") <= 1


def test_a_bad_table_kind_is_refused(tmp_path):
    bad = tmp_path / "m.tsv"
    bad.write_text("form\tkind\tmeaning\nnephr\torgan\tkidney\n")
    with pytest.raises(ValueError, match="organ"):
        mo.load_parts(bad, None)


def test_understanding_searches_the_word_or_its_parts_and_does_not_correct_it(parts):
    vocabulary = {"lip": 50, "palate": 40, "cleft": 30, "cheilopalatoschesis": 1}
    speller = spelling.Speller(vocabulary)
    understanding = qu.Understanding(terms.load_table(), speller, morphology=mo.Morphology(parts, vocabulary))
    u = understanding.understand("cheilopalatoschisis", None, ALL)
    assert u.slots == ((("cheilopalatoschisis",), ("lip", "palate", "cleft")),)
    assert not u.corrections and "lip palate cleft" in u.dense_text
    assert any(e.term == "cheilopalatoschisis" for e in u.expansions)
    off = understanding.understand("cheilopalatoschisis", None, ALL - {"morphology"})
    assert off.slots == ((("cheilopalatoschesis",),),) and "lip" not in off.dense_text  # corrected, not read


def test_the_anatomy_roots_file_is_what_the_generator_makes_from_the_pcs_body_parts():
    from embeddings import anatomy_roots as ar
    words = ar.anatomy_words()
    assert "scrotum" in words and "anterior" not in words and "renal" not in words
    assert ar.roots("scrotum") == ["scrotum", "scrot"] and ar.roots("liver") == ["liver"]
    assert ar.TABLE.read_text() == ar.render(ar.rows(words))  # regenerate: python -m embeddings.anatomy_roots


def test_anatomy_roots_read_compound_procedure_words_the_curated_table_lacks(parts):
    morphology = mo.Morphology(parts, {})
    assert ("scrotum", "resection") in morphology.read("scrotectomy")
    assert ("scapula", "reposition") in morphology.read("scapulopexy")
    assert mo.Morphology(mo.load_parts(anatomy=None), {}).read("scrotectomy") == ()


def test_procedure_word_parts_read_as_pcs_reads_them(parts):
    # The PCS Index sends a lithotomy to Extirpation and most -ostomy words to Drainage as well as Bypass.
    morphology = mo.Morphology(parts, {})
    assert ("bile", "duct", "extirpation") in morphology.read("choledocholithotomy")
    assert ("rectum", "drainage") in morphology.read("rectostomy")
    assert ("cervix", "drainage") in morphology.read("trachelotomy")
    assert ("pituitary", "resection") in morphology.read("hypophysectomy")


def test_a_corrected_word_is_read_again_and_gets_its_parts(parts):
    vocabulary = {"hysterectomy": 16, "uterus": 900, "resection": 4000}
    understanding = qu.Understanding(terms.load_table(), spelling.Speller(vocabulary),
                                     morphology=mo.Morphology(parts, vocabulary))
    u = understanding.understand("hysterectamy", None, ALL)
    assert u.did_you_mean == "hysterectomy" and [c.suggestion for c in u.corrections] == ["hysterectomy"]
    assert any("uterus" in reading for reading in u.slots[0]) and "uterus" in u.dense_text
    assert u.intent == "icd10pcs"
    typed_right = understanding.understand("hysterectomy", None, ALL)
    assert u.slots == typed_right.slots


def test_a_correction_that_swaps_the_organ_before_the_same_suffix_is_refused(parts):
    vocabulary = {"penectomy": 5, "appendectomy": 40, "colostomy": 30}
    understanding = qu.Understanding(terms.load_table(), spelling.Speller(vocabulary),
                                     morphology=mo.Morphology(parts, vocabulary))
    assert not understanding.understand("cecectomy", None, ALL).corrections  # another organ, not a typo
    assert not understanding.understand("cecostomy", None, ALL).corrections
    assert understanding.understand("apendectomy", None, ALL).did_you_mean == "appendectomy"  # one letter
