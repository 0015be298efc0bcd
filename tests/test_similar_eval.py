"""The Similar Codes measurement: sampling, judging near-duplicates, the blended-vs-neighbours bar, and the notebook."""
import os
from pathlib import Path

import pytest

from service.evaluation import similar as ev
from service.similar.data import similar_data

pytestmark = pytest.mark.slow

NOTEBOOK = Path(__file__).parent.parent / "notebooks" / "similar_codes.ipynb"


@pytest.fixture(scope="module")
def measures(engine):
    return ev.measure(engine)


def test_sample_is_fixed_billable_and_seeded(engine):
    store = engine.store
    first = ev.sample_codes(store, "icd10cm", 40)
    assert first == ev.sample_codes(store, "icd10cm", 40)
    assert first != ev.sample_codes(store, "icd10cm", 40, seed=ev.SEED + 1)
    assert len(set(first)) == 40
    assert all(store.billable[store.code_id("icd10cm", c)] for c in first)


def test_judge_counts_side_and_encounter_twins_as_near_duplicates(engine):
    store, data = engine.store, similar_data(engine.store)
    rows = [store.code_id("icd10cm", c) for c in ("S72.002A", "S72.001D", "S72.011A", "S72.012A", "S72.021A")]
    verdict = ev.judge(data, store.code_id("icd10cm", "S72.001A"), rows)
    assert verdict["near_duplicate"].tolist() == [True, True, False, True, False]
    assert verdict["same_ccs"].all() and verdict["structural"].all()
    unrelated = ev.judge(data, store.code_id("icd10cm", "S72.001A"), [store.code_id("icd10pcs", "0DTJ0ZZ")])
    assert not unrelated["same_ccs"].any() and not unrelated["structural"].any()


def test_blended_list_beats_plain_neighbours_on_the_fixture(measures, engine):
    assert {(m.system, m.method) for m in measures} == {(s, k) for s in engine.store.scope for k in ev.METHODS}
    assert ev.check(measures) == []
    for m in measures:
        assert 0 < m.codes <= ev.SAMPLE and m.suggestions > 0
        assert all(0.0 <= share <= 1.0 for share in (m.same_ccs, m.near_duplicates, m.structural))
    by = {(m.system, m.method): m for m in measures}
    assert all(by[(s, "blended")].near_duplicates < by[(s, "neighbours")].near_duplicates
               for s in engine.store.scope)


def test_check_reports_a_blended_list_that_does_not_beat_neighbours(measures):
    swapped = [ev.ListMeasure(**{**m.to_dict(), "method": "blended" if m.method == "neighbours" else "neighbours"})
               for m in measures]
    problems = ev.check(swapped)
    assert any("near-duplicates" in p for p in problems) and any("same-CCS" in p for p in problems)


def test_report_texts_carry_the_figures(measures):
    table, note = ev.markdown(measures), ev.summary(measures)
    for m in measures:
        assert f"| {m.system} | {m.method} | {m.codes} |" in table
        assert f"{m.near_duplicates:.1%}" in table and f"{m.near_duplicates:.1%}" in note
    assert "meets the bar" in note


def test_open_engine_finds_a_relative_index_from_the_repository_root(fixture_settings, tmp_path, monkeypatch):
    root = NOTEBOOK.parent.parent
    relative = Path(os.path.relpath(Path(fixture_settings.index_dir).resolve(), root))
    # Deeper than the path climbs, so it cannot reach the index from here whatever the checkout's depth (a clone
    # as deep under /tmp as pytest's own folders once made it resolve from tmp_path itself).
    away = tmp_path.joinpath(*["d"] * (len(relative.parts) + 1))
    away.mkdir(parents=True)
    monkeypatch.chdir(away)
    assert not relative.exists()
    engine = ev.open_engine(fixture_settings.replace(index_dir=relative))
    assert engine.store.directory == Path(fixture_settings.index_dir).resolve()


def test_notebook_runs_headless_on_the_fixture_index(fixture_settings, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    monkeypatch.setenv("MEDCODES_INDEX_DIR", str(fixture_settings.index_dir))
    monkeypatch.setenv("MEDCODES_CACHE_DIR", str(Path(fixture_settings.cache_dir).absolute()))  # not notebooks/data
    monkeypatch.setenv("MEDCODES_ENCODER", "stub")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbclient.NotebookClient(notebook, timeout=180, kernel_name="python3",
                            resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    shown = "\n".join(str(o.get("data", {}).get("text/markdown", "")) for c in notebook.cells
                      if c.cell_type == "code" for o in c.outputs)
    assert "| icd10cm | blended |" in shown and "| icd10pcs | neighbours |" in shown
    assert "meets the bar" in shown
