"""Claim text (CMS short descriptions) is an identifier: typed whole it finds its code first; its words alone do
not match it, so a sibling's claim text cannot outrank the code a query describes."""
import pytest

from embeddings.abbreviations import spell_slashes
from service.search import understanding as qu

ALL = frozenset(qu.FEATURES)


def claims_under(engine, prefix: str) -> dict[str, str]:
    """Code -> claim text of the fixture's billable codes under a prefix."""
    store = engine.store
    rows = [r for r in store.all_rows() if r.code.startswith(prefix) and r.billable]
    texts = store.lexical_texts([r.id for r in rows], ("claim",))
    return {r.code: texts[r.id] for r in rows if texts.get(r.id)}


def test_claim_text_typed_whole_finds_its_code_first_whatever_case_punctuation_and_slash_form(engine):
    claims = claims_under(engine, "S72.0")
    assert len(claims) > 20
    for code, claim in list(claims.items())[:25]:
        for typed in (claim, claim.upper(), claim.replace(",", " ").replace("without", "w/o")):
            top = engine.search(typed, limit=3).hits[0]
            assert (top.code, "claim text" in top.reasons) == (code, True), (typed, top)


def test_only_a_whole_claim_text_is_an_identifier(engine):
    code, claim = next((c, t) for c, t in claims_under(engine, "S72.0").items() if "," in t)
    head = claim.rsplit(",", 1)[0]  # its last part left off: the claim text of no code
    assert not any("claim text" in h.reasons for h in engine.search(head, limit=20).hits)
    without = engine.search(claim, limit=20, features=ALL - {"claim"}).hits
    assert not any("claim text" in h.reasons for h in without)


def test_words_of_claim_text_alone_match_no_document(engine):
    # A word only claim text uses, with no spelt-out form mined for it, is not matched word by word.
    official = engine.store.vocabulary()
    claim_only = sorted({w for t in claims_under(engine, "S72.0").values() for w in spell_slashes(t).lower().split()
                         if w.isalpha() and w not in official and w + "s" not in official
                         and w not in engine.understanding.abbreviations})
    assert claim_only, "the fixture has claim words no official text uses"
    for word in claim_only[:5]:
        assert engine.search(word, mode="lexical", features=ALL - {"spell", "morphology"}).hits == (), word


@pytest.mark.parametrize("columns", [(), ("claim", "nope")])
def test_lexical_texts_names_only_its_columns(engine, columns):
    with pytest.raises(ValueError):
        engine.store.lexical_texts([1], columns)
