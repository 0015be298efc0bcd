"""Exact names: the codable code whose title or official synonym is the query goes first."""
from types import SimpleNamespace

from service.search import names
from service.search.fusion import EXACT_CODE_BOOST, Fusion


def _store(texts: dict[int, str], billable: set[int], keys: dict[int, str] | None = None):
    keys = keys or {i: f"X{i}" for i in texts}

    def official_names(ids):
        return {i: [n for n in texts[i].split(" | ") if not n.startswith("~")] for i in ids if i in texts}

    def generated_names(ids):  # written here with a leading '~'
        return {i: [n[1:] for n in texts[i].split(" | ") if n.startswith("~")] for i in ids if i in texts}
    return SimpleNamespace(official_names=official_names, generated_names=generated_names,
                           billable={i: i in billable for i in texts}, key_of=keys,
                           system_of={i: "icd10cm" for i in texts},
                           rows=lambda ids: {i: SimpleNamespace(kind="category", title=texts[i].split(" | ")[0])
                                             for i in ids})


def _fusion(scores: dict[int, float]) -> Fusion:
    return Fusion(60, scores=dict(scores), reasons={i: [] for i in scores})


TEXTS = {1: "Retrograde amnesia", 2: "Anterograde amnesia", 3: "Other amnesia | Amnesia NOS | Memory loss NOS",
         4: "Memory loss", 5: "Transient global amnesia | Memory loss (transient)"}


def test_name_key_drops_nos_modifiers_and_plurals_but_keeps_a_querys_own_parentheses():
    assert names.name_key("Seizure(s) (convulsive) NOS") == ("seizure",)
    assert names.name_key("Memory losses") == names.name_key("memory loss NOS") == ("memory", "loss")
    assert names.name_key("Femoral hernia (bilateral)", official=False) == ("femoral", "hernia", "bilateral")
    assert names.name_key("crohns disease", official=False) == names.name_key("Crohn's disease NOS")
    # 'Unspecified X' and 'X, unspecified' are X's default code, as 'X NOS' is.
    assert names.name_key("Unspecified urinary incontinence") == names.name_key("Urinary incontinence NOS")


def test_the_codable_code_named_as_the_query_goes_first_others_keep_their_order():
    fusion = _fusion({1: 0.9, 2: 0.8, 3: 0.5, 4: 0.95, 5: 0.4})
    ranked = names.named_first([4, 1, 2, 3, 5], "memory loss", fusion, _store(TEXTS, billable={1, 2, 3, 5}))
    # 4 is a category named 'Memory loss' with no codable descendant among the candidates: it stays; 5's name
    # says more only in parentheses: it counts.
    assert ranked == [3, 5, 4, 1, 2]
    assert fusion.scores[3] > fusion.scores[5] > fusion.scores[4] and fusion.reasons[3] == [names.WHY]


def test_a_category_named_as_the_query_follows_its_default_codable_code():
    texts = {0: "Non-Hodgkin lymphoma, unspecified | Lymphoma NOS", 1: "Lymphoblastic lymphoma",
             2: "Non-Hodgkin lymphoma, unspecified, unspecified site", 3: "Non-Hodgkin lymphoma, unspecified, with X"}
    store = _store(texts, billable={1, 2, 3}, keys={0: "C859", 1: "C835", 2: "C8590", 3: "C8599"})
    fusion = _fusion({1: 0.9, 0: 0.8, 3: 0.5, 2: 0.4})
    assert names.named_first([1, 0, 3, 2], "lymphoma", fusion, store, frozenset({"lymph"}))[:3] == [2, 0, 1]
    assert fusion.reasons[2] == ["codable code under C85.9"] and fusion.reasons[0] == [names.WHY]


def test_nothing_moves_without_an_exact_name_or_beside_a_pinned_claim_match():
    store = _store(TEXTS, billable=set(TEXTS))
    assert names.named_first([1, 2, 3], "memory loss after a fall", _fusion({1: 3, 2: 2, 3: 1}), store) == [1, 2, 3]
    pinned = _fusion({1: EXACT_CODE_BOOST + 1, 2: 2, 3: 1})
    assert names.named_first([1, 2, 3], "memory loss", pinned, store) == [1, 2, 3]


def test_a_table_term_spelt_out_names_a_code_in_any_word_order_after_the_querys_own_words():
    texts = {0: "Atopic dermatitis, unspecified | Atopic eczema", 1: "Dermatitis, unspecified | Eczema NOS",
             2: "Malignant neoplasm of colon, unspecified"}
    store = _store(texts, billable={0, 1, 2})
    spelt = [SimpleNamespace(term="eczema", expansion="atopic dermatitis unspecified")]
    assert names.named_first([0, 1, 2], "eczema", _fusion({0: 3, 1: 2, 2: 1}), store, spelt=spelt)[:2] == [1, 0]
    cancer = [SimpleNamespace(term="cancer", expansion="malignant neoplasm")]
    fusion = _fusion({0: 3, 1: 2, 2: 1})
    assert names.named_first([0, 1, 2], "colon cancer unspecified", fusion, store, spelt=cancer)[0] == 2


def test_a_generated_name_names_a_code_after_the_official_ones_and_says_so():
    texts = {1: "Chronic embolism and thrombosis of soleal vein", 2: "Acute embolism of calf vein | ~Acute soleal vein",
             3: "Acute embolism of soleal vein NOS"}
    fusion = _fusion({1: 3, 2: 2, 3: 1})
    ranked = names.named_first([1, 2, 3], "acute soleal vein", fusion, _store(texts, billable={1, 2, 3}))
    assert ranked == [2, 1, 3] and fusion.reasons[2] == [names.WHY_MADE]
    fusion = _fusion({1: 3, 2: 2, 3: 1})
    texts[3] = "Acute embolism of soleal vein NOS | Acute soleal vein"
    assert names.named_first([1, 2, 3], "acute soleal vein", fusion, _store(texts, billable={1, 2, 3})) == [3, 2, 1]
    assert fusion.reasons[3] == [names.WHY]


def test_a_built_index_gives_official_names_only(engine):
    store = engine.store
    row = next(r for r in store.all_rows() if store.official_names([r.id]).get(r.id, [])[1:])
    names_of = store.official_names([row.id])[row.id]
    assert names_of[0] == row.title
    terms = store.lexical_texts([row.id], ("terms",))[row.id].split(" | ")
    assert set(names_of[1:]) <= set(terms)
