"""7th-character families on the fixture index: one result per family, its codable member first, the rest listed."""
from __future__ import annotations

import pytest

from embeddings.index.rows import CodeRow
from service.search.engine import DEFAULT_FEATURES, FLAT_FEATURES
from service.search.families import HEADING, Variant, family_of, variant
from service.web.render import FOLD_INLINE, variant_summary

QUERY = "displaced fracture of neck of right femur"


STEMS = frozenset({("icd10cm", "S72001"), ("icd10cm", "O36593")})


@pytest.mark.parametrize("system, key, family", [
    ("icd10cm", "S72001A", "S72001"), ("icd10cm", "S72001", "S72001"), ("icd10cm", "S301XXA", "S301"),
    ("icd10cm", "S301", "S301"), ("icd10cm", "I2109", "I2109"), ("icd10pcs", "0FT44ZZ", "0FT44ZZ"),
    ("icd10cm", "O365930", "O36593"),
    # An ordinary 7-character child of a subcategory, and a block key, are families of their own.
    ("icd10cm", "G710340", "G710340"), ("icd10cm", "X71-X83", "X71-X83")])
def test_a_family_is_the_stem_without_the_7th_character_and_its_placeholders(system, key, family):
    assert family_of(system, key, STEMS) == family


# Families fold alone: headings of other families fold too by default (see test_headings).
FAMILIES_ONLY = DEFAULT_FEATURES - {"headings"}


def family_keys(hits, engine) -> list[tuple[str, str]]:
    return [(h.system, family_of(h.system, h.code.replace(".", ""), engine.store.stems)) for h in hits]


def test_each_family_takes_one_place_with_its_siblings_listed(engine):
    hits = engine.search(QUERY, limit=20, features=FAMILIES_ONLY).hits
    keys = family_keys(hits, engine)
    assert len(keys) == len(set(keys)), keys
    folded = [h for h in hits if h.variants]
    assert folded, "the fixture has S72.0 codes with 7th characters; some must have been folded"
    for hit in folded:
        assert hit.billable
        stem = family_of(hit.system, hit.code.replace(".", ""), engine.store.stems)
        assert [v.code for v in hit.variants] == sorted(v.code for v in hit.variants), "the tabular's order"
        for v in hit.variants:
            assert family_of(hit.system, v.code.replace(".", ""), engine.store.stems) == stem and v.code != hit.code
            assert v.title == engine.store.record(hit.system, v.code).title
            assert v.label and (v.label == HEADING or v.title.endswith(v.label)), v


def test_folding_is_a_feature_the_ablation_can_switch_off(engine):
    plain = engine.search(QUERY, limit=20, features=FAMILIES_ONLY - {"families"}).hits
    keys = family_keys(plain, engine)
    assert len(keys) > len(set(keys)), "without folding, siblings of one family stand in the list separately"
    assert not any(h.variants for h in plain)
    folded = engine.search(QUERY, limit=20, features=FAMILIES_ONLY).hits
    # The first result is the same code either way: folding only removes the places siblings took below it.
    assert folded[0].code == plain[0].code or family_keys(folded[:1], engine) == family_keys(plain[:1], engine)


def test_a_codable_member_stands_for_a_stem_that_ranked_above_it(engine):
    plain = engine.search(QUERY, limit=40, features=FAMILIES_ONLY - {"families"}).hits
    stems = [h for h in plain if not h.billable and h.code.startswith("S72.0") and len(h.code.replace(".", "")) == 6]
    assert stems, "the fixture query ranks a six-character stem"
    folded = {h.code: h for h in engine.search(QUERY, limit=40, features=FAMILIES_ONLY).hits}
    stem = stems[0].code
    assert stem not in folded
    holder = [h for h in folded.values() if stem in [v.code for v in h.variants]]
    assert len(holder) == 1 and holder[0].billable and holder[0].code.startswith(stem)


def test_a_query_naming_the_encounter_keeps_the_siblings_apart(engine):
    hits = engine.search(QUERY + ", subsequent encounter", limit=20).hits
    assert not any(h.variants for h in hits)
    keys = family_keys(hits, engine)
    assert len(keys) > len(set(keys)), "the query weighs the encounters against each other"


def test_a_typed_code_lists_every_sibling(engine):
    codes = [h.code for h in engine.search("S72.001", limit=10).hits]
    assert {"S72.001", "S72.001A", "S72.001D"} <= set(codes)


def test_the_api_and_the_page_show_the_siblings(client):
    body = client.get("/api/search", params={"q": QUERY, "limit": 20}).json()
    folded = [r for r in body["results"] if r["variants"]]
    assert folded
    shown = folded[0]["variants"][0]
    assert set(shown) == {"code", "title", "label", "url"} and shown["url"].endswith(shown["code"])
    page = client.get("/", params={"q": QUERY}).text
    assert 'class="also"' in page and shown["url"] in page and shown["label"] in page


def test_flat_code_lists_keep_one_row_per_code(client, engine):
    """FHIR $expand and the CTSS route have no room for siblings, so every code keeps its own row there."""
    flat = [h.code for h in engine.search(QUERY, "icd10cm", limit=20, features=FLAT_FEATURES).hits]
    keys = [family_of("icd10cm", c.replace(".", ""), engine.store.stems) for c in flat]
    assert len(keys) > len(set(keys))
    _total, codes, _extra, _shown = client.get("/api/ctss/icd10cm/search",
                                               params={"terms": QUERY, "maxList": 20}).json()
    assert codes == flat
    body = client.get("/fhir/ValueSet/$expand", params={"url": "http://hl7.org/fhir/sid/icd-10-cm?fhir_vs",
                                                        "filter": QUERY, "count": 20}).json()
    assert [c["code"] for c in body["expansion"]["contains"]] == flat


@pytest.mark.parametrize("holder, sibling, label", [
    ("Open bite of left hand, initial encounter", "Open bite of left hand, sequela", "sequela"),
    ("Fracture of neck of right femur, initial encounter for closed fracture",
     "Fracture of neck of right femur, initial encounter for open fracture type I or II",
     "initial encounter for open fracture type I or II"),
    ("Poor fetal growth, third trimester, fetus 1", "Poor fetal growth, third trimester, fetus 2", "fetus 2"),
    ("Open bite of left hand", "Open bite of left hand, subsequent encounter", "subsequent encounter")])
def test_a_sibling_is_labelled_by_the_part_of_its_title_that_differs(holder, sibling, label):
    def row(title, billable=True):
        return CodeRow(0, "icd10cm", "S00.0", title, billable, "code", "19", "")
    assert variant(row(holder), row(sibling)).label == label
    assert variant(row(sibling), row(holder, billable=False)).label == HEADING


def test_a_long_sibling_list_is_folded_under_a_summary(client, engine):
    hits = engine.search(QUERY, limit=20).hits
    long = [h for h in hits if len(h.variants) > FOLD_INLINE]
    short = [h for h in hits if 0 < len(h.variants) <= FOLD_INLINE]
    assert long, "the fixture's femur fractures have more than three 7th characters"
    page = client.get("/", params={"q": QUERY, "limit": 20}).text
    summary = variant_summary(long[0].variants)
    assert summary.startswith("also ") and summary.endswith(long[0].variants[-1].code[-1])
    assert f'<details class="also"><summary>{summary}</summary>' in page
    for hit in short:
        assert f'<span class="also">also <a href="/codes/icd10cm/{hit.variants[0].code}"' in page


@pytest.mark.parametrize("codes, summary", [
    (["S72.041", "S72.041B", "S72.041D"], "also S72.041 and 7th characters B, D"),
    (["S72.041D"], "also 7th character D"), (["S30.1"], "also S30.1")])
def test_the_summary_names_the_heading_and_the_7th_characters(codes, summary):
    assert variant_summary([Variant(c, "", "") for c in codes]) == summary


class _Store:
    """The few store lookups initial_holders makes, over a handful of codes."""

    def __init__(self, codes: list[tuple[str, str]]):
        self.key_of = [key for key, _title in codes]
        self.system_of = ["icd10cm"] * len(codes)
        self.titles = [title for _key, title in codes]

    def code_id(self, system: str, key: str):
        return self.key_of.index(key) if key in self.key_of else None

    def rows(self, ids):
        return {i: CodeRow(i, "icd10cm", self.key_of[i], self.titles[i], True, "code", "19", self.key_of[i][:6])
                for i in ids}


def test_a_query_naming_no_encounter_sees_the_initial_encounter_code_hold_its_familys_place():
    from types import SimpleNamespace

    from service.search.families import initial_holders
    store = _Store([("S92402P", "Displaced fracture of left great toe, subsequent encounter for fracture with malunion"),
                    ("S92402A", "Displaced fracture of left great toe, initial encounter for closed fracture"),
                    ("S92402D", "Displaced fracture of left great toe, subsequent encounter for fracture with routine healing"),
                    ("S92499S", "Other fracture of unspecified great toe, sequela"),
                    ("T17300A", "Unspecified foreign body in larynx causing asphyxiation, initial encounter")])
    fusion = SimpleNamespace(scores={0: 0.8, 2: 0.6, 3: 0.5, 4: 0.4}, reasons={0: ["words: fracture"], 2: [], 3: [], 4: []})
    folded = {0: [2]}
    page = initial_holders([0, 3, 4], folded, fusion, store)
    assert page == [1, 3, 4]  # S92.499S has no initial-encounter sibling here, and stays
    assert folded == {1: [2, 0]} and fusion.scores[1] == 0.8 and fusion.reasons[1] == ["words: fracture"]


def test_with_encounter_reading_off_no_default_encounter_is_imposed(engine):
    # The default (initial encounter) is for a query read as naming none; with the feature off the query is not
    # read at all, and the family's best-ranked member keeps its place.
    text = QUERY + ", subsequent encounter for closed fracture with routine healing"
    hits = engine.search(text, limit=5, features=DEFAULT_FEATURES - {"encounter"}).hits
    assert hits[0].code.endswith("D"), [h.code for h in hits]
    assert engine.search(QUERY, limit=5).hits[0].code.endswith("A")
