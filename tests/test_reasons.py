"""A word match's reason names the title's words, else the official name holding them, never generated text."""
from service.search.reasons import OTHER_TEXT, lexical_reason


def test_the_title_then_the_official_name_holding_most_query_words_then_other_text():
    words = ("bed", "sores")
    assert lexical_reason("Bed rest status", ["Decubitus ulcer"], words) == "words: bed"
    names = ["Decubitus ulcer", "Bed sore", "Pressure sore"]
    assert lexical_reason("Pressure ulcer of sacral region", names, words) == "synonym: Bed sore"
    assert lexical_reason("Pressure ulcer of sacral region", ["Decubitus ulcer"], words) == OTHER_TEXT
