"""Headings fold into the codable code under them, which takes the better place; deleted codes and deep rows stay."""
from types import SimpleNamespace

import numpy as np

from service.search import headings


def _store(keys, billable, inactive=None):
    return SimpleNamespace(key_of=np.array(keys, dtype=object), billable=np.array(billable),
                           inactive=np.array(inactive or [False] * len(keys)),
                           system_of=np.array(["icd10cm"] * len(keys), dtype=object))


def test_a_heading_is_listed_with_its_codable_code_at_the_better_place():
    store = _store(["F20", "F21", "F200", "F209", "R51", "R519"], [False, True, True, True, False, True],
                   [False, False, False, False, True, False])
    folded: dict[int, list[int]] = {3: [2]}
    assert headings.fold([0, 1, 4, 5, 3, 2], store, folded) == [3, 1, 4, 5, 2]
    # F20.9 takes F20's place and lists it first; R51 is a deleted code, not a heading: it keeps its row
    assert folded == {3: [0, 2]}  # in the tabular's order


def test_nested_headings_share_a_code_when_it_is_their_only_one_and_rows_past_the_reach_stay():
    store = _store(["S82", "S828", "S8281", "S82811A", "S82812A"], [False, False, False, True, True])
    folded: dict[int, list[int]] = {}
    assert headings.fold([0, 1, 3, 2], store, folded) == [3]
    assert folded == {3: [0, 1, 2]}
    folded = {}
    assert headings.fold([0, 1, 3, 2, 4], store, folded) == [3, 4]
    assert folded == {3: [0, 2], 4: [1]}  # each code first takes a heading of its own
    filler = list(range(4, 4 + headings.REACH))
    store = _store(["S82"] + ["K00"] * 3 + ["Z99"] * headings.REACH + ["S82811A"],
                   [False] * 4 + [True] * (headings.REACH + 1))
    code = 4 + headings.REACH
    # A code below the page comes up to its heading (folding moves rows up, so it could reach the page under it) ...
    assert headings.fold([0, *filler[:headings.DEPTH], code], store, {}) == [code, *filler[:headings.DEPTH]]
    # ... but not from past REACH.
    assert headings.fold([0, *filler, code], store, {}) == [0, *filler, code]


def test_on_the_fixture_index_no_heading_stands_above_a_code_it_heads(engine):
    from service.search.engine import DEFAULT_FEATURES
    from service.search.families import HEADING
    folds = 0
    for query in ("fracture of neck of femur", "diabetes", "malignant neoplasm"):
        hits = engine.search(query, limit=headings.DEPTH, features=DEFAULT_FEATURES - {"families"}).hits
        for n, h in enumerate(hits):
            key = h.code.replace(".", "")
            assert h.billable or h.kind == "inactive" or not any(
                o.billable and o.system == h.system and o.code.replace(".", "").startswith(key) for o in hits[n + 1:])
            for v in h.variants:
                assert v.label == HEADING and key.startswith(v.code.replace(".", "")), (h, v)
            folds += bool(h.variants)
    assert folds, "some heading was folded into a code"
