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
    Code("icd10cm", "R10", "Abdominal and pelvic pain", False, "category",
         notes=(Note("excludes1", "renal colic (N23)"), Note("excludes2", "cleft lip, both sides (Q37.9)"))),
    Code("icd10cm", "N23", "Unspecified renal colic", True, "code"),
    Code("icd10pcs", "0FT44ZZ", "Resection of Gallbladder, Percutaneous Endoscopic Approach", True, "code",
         terms=("Cholecystectomy",), short="Resection of Gallbladder, Perc Endo Approach"),
]


def test_pairs_come_from_every_table_source_and_point_at_the_official_title():
    found = tp.build_pairs(CODES, frozenset(), frozenset(), caps={})
    by_source = {p.source for p in found}
    assert {"includes", "inclusion", "mention", "short", "pcs-index", "parent", "table"} <= by_source
    assert tp.Pair("short", "Unsp cleft palate w unil cleft lip", CODES[3].title, "icd10cm:Q37.9") in found
    assert tp.Pair("pcs-index", "Cholecystectomy", CODES[6].title, "icd10pcs:0FT44ZZ") in found
    # another code's note names Q37.9 with new words; 'renal colic' is N23's own title, NOS and unspecified aside
    assert tp.Pair("mention", "cleft lip, both sides", CODES[3].title, "icd10cm:Q37.9") in found
    assert not [p for p in found if p.source == "mention" and p.code == "icd10cm:N23"]


def test_excluded_prefixes_and_query_texts_never_become_pairs():
    found = tp.build_pairs(CODES, frozenset({"icd10cm:Q37"}), frozenset({"threatened labor"}), caps={})
    assert not [p for p in found if p.code.startswith("icd10cm:Q37")]
    assert not [p for p in found if p.anchor.lower() == "threatened labor"]
    assert not [p for p in found if p.source == "mention"]  # its only target is under an excluded prefix
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
    evaluation = es.query_sets(engine.store)
    training = es.train_sets(engine.store, evaluation)  # the ranker's queries: unseen by the model as well
    assert sum(len(s.queries) for s in training.values()) > 0
    for qset in [*evaluation.values(), *training.values()]:
        for query in qset.queries:
            assert " ".join(query.text.split()).lower() in texts
            assert all(f"{query.system}:{p}" in prefixes for p in query.prefixes)


def test_blend_averages_every_weight_with_the_base_model():
    import torch

    from embeddings.training.train import blend
    torch.manual_seed(0)
    trained, base = torch.nn.Linear(3, 2), torch.nn.Linear(3, 2)
    before = {k: v.clone() for k, v in trained.state_dict().items()}
    blend(trained, base, 0.25)
    for name, value in trained.state_dict().items():
        assert torch.allclose(value, 0.75 * before[name] + 0.25 * base.state_dict()[name])
    blend(trained, base, 1.0)
    assert all(torch.equal(v, base.state_dict()[k]) for k, v in trained.state_dict().items())
