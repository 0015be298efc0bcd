"""Claim abbreviations mined from short/long description pairs, and how the query side spells them out."""
import pytest

from embeddings import abbreviations as ab
from embeddings.records import Code
from service.search import understanding as qu

PAIRS = [
    ("Disp fx of shaft of r femur, init", "Displaced fracture of shaft of right femur, initial encounter for closed fracture"),
    ("Nondisp fx of shaft of l femur, subs", "Nondisplaced fracture of shaft of left femur, subsequent encounter"),
    ("Disp fx of neck of r femur, init", "Displaced fracture of neck of right femur, initial encounter for closed fracture"),
    ("Traum subdr hem w/o loss of consciousness, init",
     "Traumatic subdural hemorrhage without loss of consciousness, initial encounter"),
    ("Traum subdr hem w LOC of 30 minutes or less, init",
     "Traumatic subdural hemorrhage with loss of consciousness of 30 minutes or less, initial encounter"),
    ("Traum subdr hem w/o loss of consciousness, subs",
     "Traumatic subdural hemorrhage without loss of consciousness, subsequent encounter"),
]


def test_slash_forms_are_spelt_out():
    assert ab.claim_words("Hem w/o LOC, w/ fx") == ["hem", "without", "loc", "with", "fx"]
    assert ab.spell_slashes("w/o and W/O") == " without  and  without "


def test_mining_pairs_each_abbreviation_with_the_word_it_stands_for():
    table = ab.mine(PAIRS, min_support=3)
    assert table["fx"] == "fracture" and table["init"] == "initial"
    assert table["traum"] == "traumatic" and table["subdr"] == "subdural" and table["hem"] == "hemorrhage"
    # Seen too rarely ('disp' and 'subs' twice, 'l' once), or a word titles use: never an abbreviation.
    assert not {"disp", "subs", "l", "r", "shaft", "of"} & set(table)


def test_mining_needs_agreement_and_skips_words_titles_use():
    conflicting = [("Ac x", "Acute x")] * 3 + [("Ac y", "Acquired y")] * 3
    assert "ac" not in ab.mine(conflicting, min_support=3)  # half the time one word, half another
    # A word titles use once in a while may still be an abbreviation when claims use it ten times as often.
    rare_in_titles = [("Bleed", "Bleeding")] * 30 + [("x", "Bleed x")]
    assert ab.mine(rare_in_titles, min_support=3) == {"bleed": "bleeding"}
    common_in_titles = [("Bleed", "Bleeding")] * 3 + [("y", "Bleed y")]
    assert ab.mine(common_in_titles, min_support=3) == {}


def test_held_out_short_descriptions_are_not_mined():
    codes = [Code("icd10cm", f"S72.{n}", long, True, "code", short=short) for n, (short, long) in enumerate(PAIRS)]
    dropped = {("icd10cm", "S72.0"): frozenset({PAIRS[0][0]})}
    assert len(list(ab.pairs(codes, dropped))) == len(PAIRS) - 1
    assert len(list(ab.pairs(codes))) == len(PAIRS)


def test_the_query_side_spells_out_abbreviations_official_text_does_not_use():
    table = ab.mine(PAIRS, min_support=3)
    understanding = qu.Understanding({}, None, table, official=lambda w: w == "hem")
    u = understanding.understand("traum subdr hem w/o loc, init", None, frozenset(qu.FEATURES))
    assert (("subdr",), ("subdural",)) in u.slots and (("traum",), ("traumatic",)) in u.slots
    # 'hem' is a word official text uses as written: searched for either way, but the text to embed keeps it.
    assert (("hem",), ("hemorrhage",)) in u.slots and "hem " in u.dense_text
    assert "subdural" in u.dense_text and "subdr" not in u.dense_text and "without" in u.dense_text
    assert u.encounter == "initial" and "subdr → subdural" in [str(e) for e in u.expansions]
    off = understanding.understand("traum subdr hem", None, frozenset(qu.FEATURES) - {"abbrev"})
    assert (("subdr",),) in off.slots and "subdr" in off.dense_text and not off.expansions


def test_mined_tables_are_cached_by_the_pairs_they_came_from(tmp_path, monkeypatch):
    found = [("Traum subdr hem w/o loss of consciousness, init", "Traumatic subdural hemorrhage without loss of "
              "consciousness, initial encounter")] * 4 + [("Fx of r femur, subs", "Fracture of right femur, "
                                                          "subsequent encounter")] * 4
    first = ab.mine_cached(found, tmp_path)
    assert first == ab.mine(found) and first.get("subdr") == "subdural"
    monkeypatch.setattr(ab, "mine", lambda *_a, **_k: pytest.fail("mined again instead of reading the cache"))
    assert ab.mine_cached(list(reversed(found)), tmp_path) == first
    with pytest.raises(pytest.fail.Exception):
        ab.mine_cached(found[:4], tmp_path)  # other pairs: mined afresh


def test_claim_parts_that_stand_for_a_longer_title_phrase_are_mined_whole():
    pairs = [(f"Excise Thing {n}, Endo", f"Excision of Thing {n}, Via Natural or Artificial Opening Endoscopic")
             for n in range(25)]
    pairs += [(f"Excise Thing {n}, Perc Endo", f"Excision of Thing {n}, Percutaneous Endoscopic Approach")
              for n in range(25)]
    pairs += [(f"Drain Thing {n}, Open", f"Drainage of Thing {n}, Open") for n in range(25)]  # same words: no row
    found = ab.parts(pairs)
    assert found == {ab.PART + "endo": "via natural or artificial opening endoscopic",
                     ab.PART + "perc endo": "percutaneous endoscopic approach"}
    assert ab.parts(pairs[:15] + pairs[25:40]) == {}  # too few to be sure


def test_a_query_part_that_claim_text_writes_for_a_phrase_is_searched_as_the_phrase():
    mined = {"endo": "endoscopic", ab.PART + "endo": "via natural or artificial opening endoscopic"}
    understanding = qu.Understanding({}, None, mined)
    whole = understanding.understand("Destruction of Bronchus, Endo", "icd10pcs", frozenset(qu.FEATURES))
    assert whole.slots[-1] == (("endo",), ("via", "natural", "artificial", "opening", "endoscopic"))
    assert "via natural or artificial opening endoscopic" in whole.dense_text
    # Inside a part the word is only the word abbreviation: 'Perc Endo' is another approach.
    inside = understanding.understand("Destruction of Bronchus, Perc Endo", "icd10pcs", frozenset(qu.FEATURES))
    assert (("endo",), ("endoscopic",)) in inside.slots and not any("via" in a for s in inside.slots for a in s)
    plain = understanding.understand("Destruction of Bronchus, Endo", "icd10pcs", frozenset(qu.FEATURES) - {"claim_parts"})
    assert not any("via" in a for s in plain.slots for a in s)


def test_mining_reads_its_pairs_twice_so_a_generator_gives_the_same_table():
    pairs = [(f"Excise Thing {n}, Endo", f"Excision of Thing {n}, Via Natural or Artificial Opening Endoscopic")
             for n in range(25)]
    assert ab.mine(iter(pairs)) == ab.mine(pairs) and ab.PART + "endo" in ab.mine(iter(pairs))
