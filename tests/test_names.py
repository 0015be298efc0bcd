"""Exact names: the codable code whose title or official synonym is the query goes first."""
from types import SimpleNamespace

from service.search import names
from service.search.fusion import EXACT_CODE_BOOST, Fusion


def _store(texts: dict[int, str], billable: set[int]):
    def lexical_texts(ids, columns):
        assert tuple(columns) == ("title", "terms")
        return {i: texts[i] for i in ids if i in texts}
    return SimpleNamespace(lexical_texts=lexical_texts, billable={i: i in billable for i in texts})


def _fusion(scores: dict[int, float]) -> Fusion:
    return Fusion(60, scores=dict(scores), reasons={i: [] for i in scores})


TEXTS = {1: "Retrograde amnesia", 2: "Anterograde amnesia", 3: "Other amnesia | Amnesia NOS | Memory loss NOS",
         4: "Memory loss", 5: "Transient global amnesia | Memory loss (transient)"}


def test_name_key_drops_nos_modifiers_and_plurals_but_keeps_a_querys_own_parentheses():
    assert names.name_key("Seizure(s) (convulsive) NOS") == ("seizure",)
    assert names.name_key("Memory losses") == names.name_key("memory loss NOS") == ("memory", "loss")
    assert names.name_key("Femoral hernia (bilateral)", official=False) == ("femoral", "hernia", "bilateral")


def test_the_codable_code_named_as_the_query_goes_first_others_keep_their_order():
    fusion = _fusion({1: 0.9, 2: 0.8, 3: 0.5, 4: 0.95, 5: 0.4})
    ranked = names.named_first([4, 1, 2, 3, 5], "memory loss", fusion, _store(TEXTS, billable={1, 2, 3, 5}))
    # 4 is a category named 'Memory loss' (not codable): it stays; 5's name says more in parentheses: it counts.
    assert ranked == [3, 5, 4, 1, 2]
    assert fusion.scores[3] > fusion.scores[5] > fusion.scores[4] and fusion.reasons[3] == [names.WHY]


def test_nothing_moves_without_an_exact_name_or_beside_a_pinned_claim_match():
    store = _store(TEXTS, billable=set(TEXTS))
    assert names.named_first([1, 2, 3], "memory loss after a fall", _fusion({1: 3, 2: 2, 3: 1}), store) == [1, 2, 3]
    pinned = _fusion({1: EXACT_CODE_BOOST + 1, 2: 2, 3: 1})
    assert names.named_first([1, 2, 3], "memory loss", pinned, store) == [1, 2, 3]
