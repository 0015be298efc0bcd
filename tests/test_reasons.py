"""A word match's reason names the title's words, else the official name holding them, never generated text."""
from service.search.reasons import OTHER_TEXT, lexical_reason


def test_the_title_then_the_official_name_holding_most_query_words_then_other_text():
    words = ("bed", "sores")
    assert lexical_reason("Bed rest status", ["Decubitus ulcer"], words) == "words: bed"
    names = ["Decubitus ulcer", "Bed sore", "Pressure sore"]
    assert lexical_reason("Pressure ulcer of sacral region", names, words) == "synonym: Bed sore"
    assert lexical_reason("Pressure ulcer of sacral region", ["Decubitus ulcer"], words) == OTHER_TEXT


def test_a_word_match_by_synonym_names_the_synonym_in_its_reason(engine):
    store = engine.store
    found = [(row, s) for row in store.all_rows() for s in store.official_names([row.id], title=False).get(row.id, [])
             if lexical_reason(row.title, [], tuple(s.lower().split())) == OTHER_TEXT]
    assert found, "the fixture has synonyms that share no word with their code's title"
    checked = 0
    for row, synonym in found[:20]:
        hit = next((h for h in engine.search(synonym, limit=20, mode="lexical").hits if h.code == row.code), None)
        if hit is not None and not any(r.startswith("words: ") for r in hit.reasons):
            assert any(r.startswith("synonym: ") for r in hit.reasons), (synonym, hit.reasons)
            checked += 1
    assert checked, "some synonym found its code by the synonym alone"
