"""Plain words that spell a compound word official text uses, found by reading the morpheme table backwards."""
import pytest

from service.search import morphology as mo
from service.search import understanding as qu
from service.search.compose import Composer

ALL = frozenset(qu.FEATURES)
VOCABULARY = {w: 3 for w in ("hepatomegaly", "pancreatitis", "gastroenteritis", "gastritis", "osteomalacia",
                             "cholecystectomy", "nephropathy", "hepatitis", "splenomegaly")}


@pytest.fixture(scope="module")
def composer():
    return Composer(mo.Morphology(mo.load_parts(), VOCABULARY), VOCABULARY)


def spelt(composer, text, taken=frozenset()):
    words = text.split()
    return {" ".join(words[i:i + n]): [e.expansion for e in entries]
            for i, (n, entries) in composer.matches(words, set(taken)).items()}


def test_a_phrase_saying_every_part_of_a_compound_word_also_searches_for_it(composer):
    assert spelt(composer, "enlarged liver") == {"enlarged liver": ["hepatomegaly"]}
    assert spelt(composer, "inflammation of the pancreas") == {"inflammation of the pancreas": ["pancreatitis"]}
    assert spelt(composer, "softening of the bones") == {"softening of the bones": ["osteomalacia"]}
    assert spelt(composer, "liver is swollen") == {"liver is swollen": ["hepatomegaly"]}
    # Two organs joined by 'and' make one compound; the longer phrase wins over 'inflammation of the stomach'.
    assert spelt(composer, "inflammation of the stomach and intestines") == {
        "inflammation of the stomach and intestines": ["gastroenteritis"]}
    # Each phrase of the query on its own, never a word of one with a word of the next.
    assert spelt(composer, "inflamed liver and enlarged spleen") == {"inflamed liver": ["hepatitis"],
                                                                     "enlarged spleen": ["splenomegaly"]}


def test_words_between_words_already_read_or_of_another_kind_spell_nothing(composer):
    assert spelt(composer, "inflammation of chronic pancreas") == {}  # a word between that is no part
    assert spelt(composer, "enlarged liver", taken={1}) == {}  # a table term already reads 'liver'
    assert spelt(composer, "excision of the gallbladder") == {}  # operations are read as root operations instead
    assert spelt(composer, "kidney disease") == {}  # '-pathy' is too general to stand for the words
    assert spelt(composer, "liver") == {}


def test_the_engine_searches_for_the_compound_the_words_spell(engine):
    with_it = engine.search("inflammation of the gallbladder", limit=5)
    assert "inflammation of the gallbladder → cholecystitis" in with_it.expansions
    assert "cholecystitis" in with_it.hits[0].title.lower()
    without = engine.search("inflammation of the gallbladder", limit=5, features=ALL - {"compose"})
    assert not any("cholecystitis" in e for e in without.expansions)
    assert not without.hits or "cholecystitis" not in without.hits[0].title.lower()
