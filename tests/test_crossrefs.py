"""Phrases one code's notes use for another code become searchable words of that code, held-out terms excepted."""
from embeddings.crossrefs import Mention, comparable, mentions, phrase
from embeddings.documents import build_documents
from embeddings.records import Code, Note


def _cm(code, title, *notes, kind="code", parents=()):
    return Code("icd10cm", code, title, kind == "code", kind, parents=parents,
                notes=tuple(Note(k, t) for k, t in notes))


CODES = [
    _cm("A09", "Infectious gastroenteritis and colitis, unspecified",
        ("excludes1", "diarrhea NOS (R19.7)"), ("excludes1", "noninfective colitis (K50-K52)"),
        ("excludes2", "gastroenteritis due to bugs (A04.-)")),
    _cm("A04", "Other bacterial intestinal infections", kind="category"),
    _cm("A04.7", "Enterocolitis due to Clostridium difficile", parents=("A04",)),
    _cm("R19.7", "Diarrhea, unspecified", ("use_additional", "code to identify the dehydration, if applicable (A09)")),
    _cm("K52.9", "Noninfective gastroenteritis and colitis, unspecified",
        ("use_additional", "code for any associated fluid loss (R19.7)")),
]


def test_a_note_naming_one_code_gives_its_phrase_without_the_coding_instruction():
    assert phrase("diarrhea NOS (R19.7)") == ("diarrhea NOS", "R19.7")
    assert phrase("gastroenteritis due to bugs (A04.-)") == ("gastroenteritis due to bugs", "A04")
    assert phrase("code to identify the dehydration, if applicable (A09)") == ("dehydration", "A09")
    assert phrase("code for any associated fluid loss (R19.7)") == ("fluid loss", "R19.7")
    assert phrase("codeine poisoning (T40.2)") == ("codeine poisoning", "T40.2")  # a word, not the instruction
    assert phrase("noninfective colitis (K50-K52)") is None  # a range describes a group
    assert phrase("tobacco use (Z72.0) and dependence (F17.-)") is None


def test_mentions_attach_new_wording_to_the_named_code():
    found = mentions(CODES)
    # 'diarrhea NOS' repeats R19.7's title, 'NOS' and 'unspecified' aside
    assert found[("icd10cm", "R19.7")] == [Mention("fluid loss", "K52.9", "use_additional")]
    assert found[("icd10cm", "A04")] == [Mention("gastroenteritis due to bugs", "A09", "excludes2")]
    assert found[("icd10cm", "A09")] == [Mention("dehydration", "R19.7", "use_additional")]
    assert ("icd10cm", "K50") not in found


def test_documents_search_the_phrase_on_the_code_and_its_descendants_but_do_not_embed_it():
    titles = {(c.system, c.code): c.title for c in CODES}
    docs = {d.code: d for d in build_documents(CODES, titles)}
    assert "gastroenteritis due to bugs" in docs["A04"].terms
    assert "gastroenteritis due to bugs" in docs["A04.7"].context  # inherited, like an includes note
    assert "bugs" not in docs["A04"].embed_text


def test_a_held_out_term_stays_out_even_when_another_note_names_the_code_with_it():
    titles = {(c.system, c.code): c.title for c in CODES}
    held = {("icd10cm", "A04.7"): frozenset({"Gastroenteritis due to bugs"})}
    docs = {d.code: d for d in build_documents(CODES, titles, held)}
    assert "bugs" not in docs["A04"].terms and "bugs" not in docs["A04.7"].context
    assert comparable("Diarrhea, NOS") == comparable("diarrhea")
