"""Property-based tests: the code normalizer, query parser and every loader under arbitrary input."""
import sqlite3
import string
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from embeddings.codesets import SourceError, custom, icd10cm, icd10pcs
from embeddings.codesets.content import parse_text
from embeddings.index.build import BuildRequest, build_index, builds_dir
from embeddings.records import code_key
from embeddings.settings import Settings
from service.search.query import QueryError, fts_expression, parse

FIX = Path(__file__).parent / "fixtures"
ANY_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=300)
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FAST
@given(ANY_TEXT)
def test_code_key_is_idempotent_and_plain(text):
    key = code_key(text)
    assert code_key(key) == key
    assert set(key) <= set(string.ascii_uppercase + string.digits + "-")


@FAST
@given(st.sampled_from(["K92.2", "k922", "K92.2 ", "k.9.2.2"]))
def test_code_key_ignores_dots_case_and_space(text):
    assert code_key(text) == "K922"


@FAST
@given(ANY_TEXT)
def test_parse_accepts_or_refuses_cleanly(text):
    try:
        parsed = parse(text, max_chars=200)
    except QueryError as exc:
        assert str(exc)
        return
    assert parsed.text and parsed.text == parsed.text.strip() and len(parsed.text) <= 200
    assert all(ch.isprintable() for ch in parsed.text)
    if parsed.words:
        _fts_accepts(fts_expression(parsed.words, prefix_last=True))


def _fts_accepts(expression: str) -> None:
    """SQLite parses the expression as a MATCH; FTS syntax in user text (a quote, a lone '*', AND) would fail."""
    db = sqlite3.connect(":memory:")
    db.execute("CREATE VIRTUAL TABLE t USING fts5(body)")
    db.execute("INSERT INTO t VALUES ('heart attack')")
    db.execute("SELECT count(*) FROM t WHERE t MATCH ?", (expression,)).fetchone()


@FAST
@given(st.lists(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12), min_size=1, max_size=5))
def test_any_words_make_an_expression_fts5_accepts(words):
    expression = fts_expression(tuple(words), prefix_last=True)
    if expression:
        _fts_accepts(expression)
    assert fts_expression(("heart", 'att"ack')) == '"heart" OR "attack"'


def test_parse_checks_the_length_after_normalising():
    with pytest.raises(QueryError, match="once normalised"):
        parse("\ufdfa" * 20, max_chars=200)  # 20 characters, 360 after NFKC
    assert parse("\ufdfa" * 5 + " heart", max_chars=200).text  # 96 characters once normalised: within the limit
    with pytest.raises(QueryError, match="no letters"):
        parse("\ufdfa" * 5, max_chars=200)  # Arabic script only: nothing the English index can match
    with pytest.raises(QueryError):
        parse("a" * 801, max_chars=200)


@FAST
@given(ANY_TEXT)
def test_engine_never_fails_on_arbitrary_text(engine, text):
    try:
        result = engine.search(text, limit=5)
    except QueryError:
        return
    assert len(result.hits) <= 5


@FAST
@given(st.binary(max_size=400))
def test_custom_csv_random_bytes_error_names_the_file(tmp_path_factory, blob):
    path = tmp_path_factory.mktemp("fuzz") / "codes.csv"
    path.write_bytes(b"code,title\n" + blob)
    try:
        codes = custom.load("cpt", path).codes
    except SourceError as exc:
        assert "codes.csv" in str(exc)
        return
    assert all(c.code and c.title for c in codes)


@FAST
@given(st.binary(max_size=400))
def test_custom_jsonl_random_bytes_error_names_file_and_line(tmp_path_factory, blob):
    path = tmp_path_factory.mktemp("fuzz") / "codes.jsonl"
    path.write_bytes(blob)
    try:
        custom.load("cpt", path)
    except SourceError as exc:
        assert "codes.jsonl" in str(exc)


@FAST
@given(st.binary(max_size=400))
def test_tabular_xml_random_bytes_error_names_the_file(tmp_path_factory, blob):
    path = tmp_path_factory.mktemp("fuzz") / "tabular.xml"
    path.write_bytes(blob)
    with pytest.raises(SourceError, match="tabular.xml"):
        icd10cm.load(path)


@FAST
@given(st.binary(max_size=400))
def test_pcs_order_random_bytes_error_names_the_file(tmp_path_factory, blob):
    path = tmp_path_factory.mktemp("fuzz") / "order.txt"
    path.write_bytes(blob)
    try:
        titles = icd10pcs.read_order_file(path)
    except SourceError as exc:
        assert "order.txt" in str(exc)
        return
    assert titles and all(len(code) <= 7 for code in titles)


@FAST
@given(ANY_TEXT)
def test_content_text_parser_never_raises(text):
    sections, warnings = parse_text(text, "pack/x.txt")
    assert all(name and body for name, body in sections)
    assert all(w.startswith("pack/x.txt:") for w in warnings)


def test_malformed_source_never_leaves_a_partial_index(tmp_path):
    settings = Settings.from_env(index_dir=tmp_path / "index", cache_dir=tmp_path / "cache", encoder="stub")
    good = BuildRequest(systems=(), custom={"cpt": FIX / "custom-codes.csv"})
    build_index(settings, good, log=lambda _m: None)
    before = settings.index_dir.resolve()
    entries = sorted(p.name for p in builds_dir(settings.index_dir).iterdir())
    bad = BuildRequest(systems=(), custom={"cpt": FIX / "custom-bad-quote.csv"})
    with pytest.raises(SourceError, match="custom-bad-quote.csv"):
        build_index(settings, bad, log=lambda _m: None)
    assert settings.index_dir.resolve() == before
    assert sorted(p.name for p in builds_dir(settings.index_dir).iterdir()) == entries


# Few letters (shared prefixes of every length), the prefixes and endings query.stem treats apart, and plurals.
_PIECES = ("a", "b", "c", "f", "r", "t", "s", "hyper", "dys", "itis", "itic", "osis", "otic", "oma", "emia")
_WORDS = st.lists(st.sampled_from(_PIECES), min_size=1, max_size=5).map("".join)


@FAST
@given(st.lists(st.lists(st.lists(_WORDS, min_size=0, max_size=3).map(tuple), min_size=1, max_size=3).map(tuple),
                min_size=1, max_size=3).map(tuple), st.lists(_WORDS, max_size=8))
def test_a_querys_asked_words_answer_as_the_forms_of_each_word_would(slots, others):
    from service.search.query import Forms, asked, close_forms
    found = asked(slots)
    for word in others:
        assert found[word] == {w for w in found.words if close_forms(w, word)}
        assert bool(found[word]) == Forms(found.words).has(word)
