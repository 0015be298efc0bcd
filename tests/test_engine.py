"""Hybrid search on the fixture index: code lookup, lexical and dense paths, filters, paging and bad input."""
import pytest

from service.search import query as q
from service.search.engine import SearchEngine
from service.search.query import QueryError, looks_like_code, parse


@pytest.mark.parametrize("text, expected", [("k922", "K92.2"), ("K92.2", "K92.2"), ("  i10 ", "I10"),
                                            ("0ft44zz", "0FT44ZZ")])
def test_codes_are_found_ignoring_dots_case_and_space(engine, text, expected):
    assert engine.search(text).hits[0].code == expected


def test_code_shape_detection():
    assert looks_like_code("k922") and looks_like_code("0DTJ") and looks_like_code("S72.001A")
    assert not looks_like_code("MI") and not looks_like_code("heart attack") and not looks_like_code("cabg")


def test_each_path_explains_itself(engine):
    hit = engine.search("gallbladder resection", system="icd10pcs").hits[0]
    assert hit.code.startswith("0FT4")
    assert any(r.startswith("words: ") and "gallbladder" in r for r in hit.reasons)
    assert any(r.startswith("semantic ") for r in hit.reasons)


def test_modes_use_one_path_each(engine):
    lexical = engine.search("appendix resection", mode="lexical").hits
    dense = engine.search("appendix resection", mode="dense").hits
    assert lexical and all(not r.startswith("semantic") for h in lexical for r in h.reasons)
    # Steering and roll-down add their own reasons; a retrieval reason is always the mode's own path.
    assert dense and all(any(r.startswith("semantic") for r in h.reasons) for h in dense)
    assert not any(r.startswith(("words", "index or")) for h in dense for r in h.reasons)


def test_filters(engine):
    pcs = engine.search("resection", system="icd10pcs", limit=20).hits
    assert pcs and {h.system for h in pcs} == {"icd10pcs"}
    billable = engine.search("myocardial infarction", billable=True, limit=20).hits
    assert billable and all(h.billable for h in billable)
    chapter = engine.search("fracture", chapter="19", limit=20).hits
    assert chapter and all(h.chapter == "19" for h in chapter)


def test_paging_is_consistent(engine):
    first = engine.search("myocardial infarction", limit=10)
    second = engine.search("myocardial infarction", limit=5, offset=5)
    assert [h.code for h in first.hits[5:]] == [h.code for h in second.hits]
    assert first.total >= 10


@pytest.mark.parametrize("kwargs, message", [
    ({"text": ""}, "empty"), ({"text": "   \t"}, "empty"), ({"text": "x" * 5000}, "limit is"),
    ({"text": "ok", "system": "snomed"}, "unknown system"), ({"text": "ok", "limit": -1}, "limit"),
    ({"text": "ok", "limit": 10_000}, "limit"), ({"text": "ok", "offset": -3}, "offset"),
    ({"text": "ok", "mode": "magic"}, "mode"),
])
def test_bad_input_is_a_query_error(engine, kwargs, message):
    with pytest.raises(QueryError, match=message):
        engine.search(**kwargs)


def test_control_characters_and_fts_syntax_are_plain_text(engine):
    assert parse("heart\x00 attack\x1b").text == "heart attack"
    for text in ['"unbalanced', "NEAR(a b)", "title:heart", "a AND OR NOT", "col:*"]:
        engine.search(text)  # must not raise an FTS syntax error
    for text in ["*", "((("]:  # nothing to search for: said so, not passed to FTS5
        with pytest.raises(QueryError, match="no letters"):
            engine.search(text)


def test_suggest_completes_partial_words_and_codes(engine):
    words = engine.suggest("myocardial infar")
    assert words and all("infarction" in h.title.lower() for h in words)
    codes = engine.suggest("I21")
    assert codes[0].code == "I21" and all(h.code.startswith("I21") for h in codes)


def test_suggest_finds_what_a_table_term_names_when_the_typing_is_or_ends_in_one(engine):
    for typed in ("heart att", "heart attack ", "mi"):  # no title says 'heart attack': the table's term does
        hits = engine.suggest(typed, limit=5)
        assert hits and hits[0].code.startswith("I21"), typed
        assert all("myocardial infarction" in h.title.lower() for h in hits[:3])
        assert "acute myocardial infarction" in hits[0].reasons[0] and hits[0].reasons[0].startswith("expanded")
    # a term with other words typed after it says too little of what is wanted: the typed words alone are searched
    after = engine.suggest("heart attack myocard", limit=5)
    assert after and all(h.reasons == ("words",) for h in after)
    assert engine.suggest("I21")[0].code == "I21"  # a code-shaped text keeps its codes first
    # one word that only starts a term is not read as it: 'pneum' may be pneumonia, not the table's pneumonectomy
    from service.search.typeahead import ends_in_term
    u = engine.understanding.understand("pneum", None, frozenset({"expand"}), partial_last=True)
    assert u.expansions and ends_in_term("pneum", u, engine.understanding.table) == ()
    assert all(h.reasons == ("words",) for h in engine.suggest("pneum"))


def test_suggest_matches_a_codes_own_words_not_its_hierarchy(engine):
    import re

    for typed in ("fract", "disea", "infec"):
        hits = engine.suggest(typed)
        ids = [engine.store.code_id(h.system, h.code) for h in hits]
        own = engine.store.lexical_texts(ids, ("title", "terms", "claim"))
        assert hits and all(re.search(rf"\b{typed}", own[i].lower()) for i in ids), typed


def test_the_any_word_stage_reads_a_bounded_number_of_documents(engine):
    words = engine.words
    common = max(words.vocabulary, key=lambda w: words.vocabulary[w])  # the commonest word of the fixture index
    rare = [w for w in words.vocabulary if words.document_count(w) == 1][:3]
    asked = (common, *rare)
    saved = words.budget
    try:
        words.budget = 2
        anchors = words.anchors(asked)
        assert anchors == tuple(rare[:2]) and sum(words.document_count(w) for w in anchors) <= 2
        words.budget = words.document_count(common) - 1  # the common word alone is over the budget
        assert common not in words.anchors(asked)
        assert words.anchors((common,)) == ()  # no anchor: the stage is skipped
        words.budget = 10 ** 9
        assert set(words.anchors(asked)) == set(asked)
    finally:
        words.budget = saved
    # A word only the lexical table knows (claim text such as 'fx', or a stem) is counted from that table.
    stored = next(t for t in sorted(words.terms) if t.isalpha() and t not in words.vocabulary
                  and t + "s" not in words.vocabulary)
    assert words.document_count(stored) == words.terms[stored] > 0


def test_typeahead_lets_an_unfinished_rare_word_anchor_when_the_finished_ones_are_too_common(engine):
    words, store = engine.words, engine.store
    # the most common word a query keeps (a stopword such as 'with' is dropped before the search)
    common = max((w for w in words.vocabulary if w not in q.STOPWORDS), key=lambda w: words.vocabulary[w])
    # a rarer word, at least five letters long, whose first four letters no document holds beside the common word
    rare = next(w for w in sorted(words.vocabulary) if len(w) >= 5 and w.isalpha() and 0 < words.document_count(w) < 20
                and not store.lexical(q.fts_expression((common, w[:4]), "AND", True), None, 1))
    saved = words.budget
    try:
        words.budget = words.document_count(common) - 1  # the finished word cannot anchor
        found = engine.suggest(f"{common} {rare[:4]}", limit=5)
        assert found
        texts = store.lexical_texts([store.code_id(h.system, h.code) for h in found])
        assert all(rare[:4] in t.lower() for t in texts.values())
        # nor can the prefix: no any-word stage, so nothing is suggested
        words.budget = min(words.document_count(common), words.prefix_documents(rare[:4], 10 ** 9)) - 1
        assert engine.suggest(f"{common} {rare[:4]}", limit=5) == []
    finally:
        words.budget = saved


def test_anchored_any_word_expression_matches_only_anchor_documents(engine):
    store = engine.store
    rare, other = "hemorrhage", "gastrointestinal"
    plain = set(store.lexical(q.fts_expression((rare, other), "OR"), None, 1000))
    anchored = store.lexical(q.fts_anchored((rare,), (other,)), None, 1000)
    only_rare = set(store.lexical(q.fts_expression((rare,)), None, 1000))
    assert set(anchored) == only_rare and only_rare < plain
    both = set(store.lexical(q.fts_expression((rare, other), "AND"), None, 1000))
    assert both and set(anchored[:len(both)]) == both  # documents holding both words still rank first


def test_the_meaning_path_on_its_own_thread_gives_the_same_results(engine):
    serial = SearchEngine(engine.store, engine.encoder, engine.settings.replace(overlap_paths=False))
    assert engine.settings.overlap_paths
    for text in ("femur fracture left", "appendicitis", "gallbladder removal", "k92", "diabetes with kidney"):
        for mode in ("hybrid", "dense", "lexical"):
            a, b = engine.search(text, mode=mode), serial.search(text, mode=mode)
            assert [(h.code, h.score, h.reasons) for h in a.hits] == [(h.code, h.score, h.reasons) for h in b.hits]


def test_hybrid_search_walks_the_graph_with_its_own_narrower_beam(engine, monkeypatch):
    """Hybrid's meaning path asks HNSW for hnsw_ef_hybrid when the ranker rescores its candidates; dense mode and
    hybrid without the ranker keep the index's own hnsw_ef_search."""
    beams: list[int | None] = []

    class Graph:  # the fixture's indexes are flat: a stand-in that says it is HNSW and records each search's beam
        hnsw = object()

        def __init__(self, inner):
            self.inner = inner

        def search(self, vector, k, params=None):
            beams.append(params.efSearch if params is not None else None)
            return self.inner.search(vector, k)

        def __getattr__(self, name):  # reconstruct ... as the index itself
            return getattr(self.inner, name)

    for system in engine.store.scope:
        monkeypatch.setitem(engine.store.dense, system, Graph(engine.store.dense[system]))
    flat = engine.search("gallbladder removal", mode="hybrid")
    assert beams and set(beams) == {engine.settings.hnsw_ef_hybrid} and engine.settings.hnsw_ef_hybrid > 0
    for mode, features in (("dense", None), ("hybrid", engine.check_features(None) - {"ranker"})):
        beams.clear()  # dense mode, and hybrid without the ranker's exact rescoring, keep the index's wide beam
        engine.search("gallbladder removal", mode=mode, features=features)
        assert beams and set(beams) == {None}, mode
    monkeypatch.undo()
    assert [h.code for h in engine.search("gallbladder removal", mode="hybrid").hits] == [h.code for h in flat.hits]


def test_an_unqualified_heart_attack_is_the_acute_one_as_the_index_defaults_it(engine):
    # ICD-10-CM's Index sends 'Infarction, myocardial' without a stated age to I21.9 (acute, the default).
    for text in ("heart attack", "MI"):
        assert engine.search(text, system="icd10cm").hits[0].code == "I21.9", text
    assert engine.search("old MI", system="icd10cm").hits[0].code == "I25.2"


def test_a_list_of_codes_finds_each_code_in_the_order_typed(engine):
    for text in ("K92.2, I21.9", "k922 i219", "K92.2;I21.9", "K92.2 | I21.9 K92.2"):
        result = engine.search(text)
        assert [h.code for h in result.hits] == ["K92.2", "I21.9"], text
        assert result.total == 2 and all(h.reasons == ("code",) for h in result.hits)
    assert [h.code for h in engine.search("I21.9, K92.2", limit=1, offset=1).hits] == ["K92.2"]
    assert engine.search("K92.2, I21.9", billable=False).total == 0  # the filters still apply
    # a part that is no code of a loaded system: the text is searched as words ('l4 l5' are vertebrae)
    mixed = engine.search("K92.2 ZZZ99")
    assert mixed.total > 1 and not all(h.reasons == ("code",) for h in mixed.hits)


def test_a_code_shaped_query_that_is_no_code_and_no_word_finds_nothing_rather_than_noise(engine):
    for text in ("99213", "Q9999", "0ZZZZ"):  # no such code, prefix or word in the fixture index
        assert engine.search(text).total == 0, text
        assert engine.search(text, mode="dense").total > 0  # the meaning path, asked for by name, still answers
    assert engine.search("k922").hits[0].code == "K92.2"
    assert engine.search("I21").hits[0].code.startswith("I21")  # a prefix of codes is no noise
