"""The fixture index answers the foundation's headline queries through the engine."""


def test_code_query_returns_exact_code_first(engine):
    result = engine.search("k922")
    assert result.hits[0].code == "K92.2"
    assert result.hits[0].reasons[0] == "code"


def test_pcs_prefix_lists_appendix_resections(engine):
    codes = [h.code for h in engine.search("0DTJ", limit=10).hits]
    assert codes and all(c.startswith("0DTJ") for c in codes)
