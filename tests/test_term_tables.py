"""The term table against the packaged code sets: every expansion is text that official wording can match."""
import csv
from collections import defaultdict

import pytest

from embeddings.codesets import load_codeset
from service.search import query as q
from service.search.terms import TABLE


def _key(word: str) -> str:
    return word[:q.STEM]  # the forms search treats as one word ('vertebra', 'vertebrae'; 'fracture', 'fractures')


@pytest.fixture(scope="module")
def postings() -> dict[str, dict[str, set[int]]]:
    """Per system, each word key -> the codes whose official text (title, index terms, inclusion and includes
    notes, claim text) holds it."""
    out: dict[str, dict[str, set[int]]] = {}
    for system in ("icd10cm", "icd10pcs"):
        index: dict[str, set[int]] = defaultdict(set)
        for n, code in enumerate(load_codeset(system).codes):
            texts = [code.title, code.short, *code.terms, *code.notes_of("inclusion"), *code.notes_of("includes")]
            for word in {w for t in texts for w in q.tokens(t)}:
                index[_key(word)].add(n)
        out[system] = index
    return out


def matches(words: list[str], index: dict[str, set[int]]) -> bool:
    held = [index.get(_key(w), set()) for w in words]
    return bool(held) and bool(set.intersection(*held))


def test_every_expansion_is_found_whole_in_some_official_text(postings):
    """An expansion is searched as an AND of its words: one that joins two alternatives ('tachycardia
    palpitations') matches no code at all and silently finds nothing. Alternatives are rows of their own."""
    dead = []
    with open(TABLE, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            words = [w for w in q.tokens(row["expansion"]) if w not in q.STOPWORDS]
            systems = ("icd10cm", "icd10pcs") if row["system"] in ("", "any") else (row["system"],)
            if words and not any(matches(words, postings[s]) for s in systems):
                dead.append(f"{row['term']} -> {row['expansion']} ({row['system']})")
    assert not dead, "expansions no official text holds whole:\n" + "\n".join(dead)


def test_the_check_finds_an_expansion_that_joins_two_alternatives(postings):
    assert matches(["tachycardia"], postings["icd10cm"]) and matches(["palpitations"], postings["icd10cm"])
    assert not matches(["tachycardia", "palpitations"], postings["icd10cm"])


def test_two_spellings_of_one_term_keep_one_copy_of_their_expansion(tmp_path):
    from service.search.terms import load_table
    path = tmp_path / "table.tsv"
    path.write_text("term\texpansion\tsystem\nkidney stone\tcalculus of kidney\ticd10cm\n"
                    "kidney stones\tcalculus of kidney\ticd10cm\nkidney stones\tnephrolithiasis\tany\n")
    entries = load_table(path)[("kidney", "stone")]
    assert [(e.expansion, e.system) for e in entries] == [("calculus of kidney", "icd10cm"), ("nephrolithiasis", "")]


def test_the_packaged_table_has_no_row_twice():
    with open(TABLE, newline="", encoding="utf-8") as fh:
        rows = [(r["term"], r["expansion"], r["system"]) for r in csv.DictReader(fh, delimiter="\t")]
    assert len(rows) == len(set(rows))
