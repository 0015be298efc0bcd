"""The evaluation notebook runs headlessly on the fixture index and shows its tables, plots and gate."""
import pytest
from conftest import FIXTURE_PREFIXES

from embeddings.index.build import BuildRequest
from service.evaluation import heldout as ho
from service.evaluation import notebook as nbk
from service.evaluation import sets as es

pytestmark = pytest.mark.slow

pytest.importorskip("nbclient")


@pytest.fixture(scope="module")
def heldout_ready(fixture_settings, engine):
    """The notebook only reads; like `medcodes evaluate` before it, build the fixture's held-out index first."""
    sets = [s for s in es.query_sets(engine.store).values() if s.needs_held_out]
    ho.ensure_heldout_index(fixture_settings, engine.store, sets, engine.encoder,
                            BuildRequest(prefixes=FIXTURE_PREFIXES), log=lambda _m: None)


def test_evaluation_notebook_executes_and_shows_every_part(fixture_settings, heldout_ready, tmp_path):
    env = {"MEDCODES_INDEX_DIR": str(fixture_settings.index_dir), "MEDCODES_CACHE_DIR": str(fixture_settings.cache_dir),
           "MEDCODES_ENCODER": "stub"}
    notebook = nbk.execute_notebook(env=env, save_to=tmp_path / "evaluation.ipynb", timeout=600)
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    markdown = "\n".join(o.data["text/markdown"] for o in outputs if "text/markdown" in o.get("data", {}))
    streams = "".join(o.text for o in outputs if o.output_type == "stream")
    assert "| lay | hybrid+qu |" in markdown and "| cm-inclusion | bm25 |" in markdown
    assert "| -expand |" in markdown and "| query | kind | accepted | top results |" in markdown
    assert sum("image/png" in o.get("data", {}) for o in outputs) == 2
    assert "regression gate (fixture): OK" in streams
