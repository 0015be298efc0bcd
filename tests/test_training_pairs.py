"""Training pairs for the domain-adapted model: drawn from the tables, never from evaluation codes or queries."""
from embeddings.records import Code, Note
from embeddings.training import pairs as tp
from service.evaluation.exclusions import exclusion_lines

CODES = [
    Code("icd10cm", "O47", "False labor", False, "category", notes=(Note("includes", "threatened labor"),)),
    Code("icd10cm", "O47.0", "False labor before 37 completed weeks of gestation", False, "subcategory", ("O47",)),
    Code("icd10cm", "Q37", "Cleft palate with cleft lip", False, "category", notes=(Note("includes", "cheiloschisis"),)),
    Code("icd10cm", "Q37.9", "Unspecified cleft palate with unilateral cleft lip", True, "code", ("Q37",),
         notes=(Note("inclusion", "Cleft palate with cleft lip NOS"),), short="Unsp cleft palate w unil cleft lip"),
    Code("icd10pcs", "0FT44ZZ", "Resection of Gallbladder, Percutaneous Endoscopic Approach", True, "code",
         terms=("Cholecystectomy",), short="Resection of Gallbladder, Perc Endo Approach"),
]


def test_pairs_come_from_every_table_source_and_point_at_the_official_title():
    found = tp.build_pairs(CODES, frozenset(), frozenset(), caps={})
    by_source = {p.source for p in found}
    assert {"includes", "inclusion", "short", "pcs-index", "parent", "table"} <= by_source
    assert tp.Pair("short", "Unsp cleft palate w unil cleft lip", CODES[3].title, "icd10cm:Q37.9") in found
    assert tp.Pair("pcs-index", "Cholecystectomy", CODES[4].title, "icd10pcs:0FT44ZZ") in found


def test_excluded_prefixes_and_query_texts_never_become_pairs():
    found = tp.build_pairs(CODES, frozenset({"icd10cm:Q37"}), frozenset({"threatened labor"}), caps={})
    assert not [p for p in found if p.code.startswith("icd10cm:Q37")]
    assert not [p for p in found if p.anchor.lower() == "threatened labor"]
    assert [p for p in found if p.code == "icd10pcs:0FT44ZZ"]


def test_pairs_are_reproducible_and_batches_never_repeat_a_positive():
    first = tp.build_pairs(CODES, frozenset(), frozenset(), caps={})
    assert first == tp.build_pairs(CODES, frozenset(), frozenset(), caps={})
    assert tp.digest(first) == tp.digest(list(first))
    for batch in tp.batches(first * 3, 4):
        assert len({p.positive for p in batch}) == len(batch)


def test_exclusions_cover_every_query_and_held_out_code_of_the_sets(engine, tmp_path):
    lines = exclusion_lines(engine.store)
    path = tmp_path / "excluded.tsv"
    path.write_text("\n".join(lines) + "\n")
    prefixes, texts = tp.read_exclusions(path)
    from service.evaluation import sets as es
    for qset in es.query_sets(engine.store).values():
        for query in qset.queries:
            assert " ".join(query.text.split()).lower() in texts
            assert all(f"{query.system}:{p}" in prefixes for p in query.prefixes)
