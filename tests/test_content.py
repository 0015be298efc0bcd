"""Content packs: the plain-text page layout, JSON/YAML, validation warnings, and indexing for search."""
from pathlib import Path

import pytest

from embeddings.codesets.base import SourceError
from embeddings.codesets.content import SECTIONS, load_pack, parse_text
from embeddings.index.build import BuildRequest, build_index
from embeddings.settings import Settings
from service.search.engine import SearchEngine

FIX = Path(__file__).parent / "fixtures"
PACK = FIX / "content-pack"


def test_text_layout_yields_every_section_in_page_order():
    entry = next(e for e in load_pack(PACK).entries if e.code == "ZZ101")
    assert [name for name, _ in entry.sections] == list(SECTIONS)
    assert entry.section("Name") == "Invented Widget Calibration Under Imaging"
    assert entry.section("Indications").splitlines() == ["- The widget drifts out of tolerance",
                                                         "- A scheduled yearly check is due"]
    assert entry.section("Procedure Description").startswith("1. Place the widget on the bench.")
    assert entry.source == "content-pack" and entry.system == "cpt"


def test_unknown_sections_warn_with_file_and_line():
    warnings = load_pack(PACK).warnings
    assert any("0FT44ZZ.yaml" in w and "'Colour'" in w for w in warnings)
    _sections, text_warnings = parse_text("Summary\nok\nFavourite Colour:\nblue\n", "pack/x.txt")
    assert text_warnings == ["pack/x.txt:3: unknown section 'Favourite Colour'; its text is kept under Summary"]


def test_malformed_structured_files_are_errors(tmp_path):
    (tmp_path / "cpt").mkdir()
    (tmp_path / "cpt" / "A1.json").write_text('{"Summary": ')
    with pytest.raises(SourceError, match="A1.json.*malformed JSON"):
        load_pack(tmp_path)
    (tmp_path / "cpt" / "A1.json").unlink()
    (tmp_path / "cpt" / "A1.yaml").write_text("!!python/object/apply:os.system ['false']\n")
    with pytest.raises(SourceError, match="malformed YAML"):
        load_pack(tmp_path)


def _pack_with(tmp_path, cpt_files: dict[str, str]) -> Path:
    """A pack holding the fixture pack's ZZ101 entry and the given extra files under cpt/."""
    pack = tmp_path / "pack"
    (pack / "cpt").mkdir(parents=True)
    (pack / "cpt" / "ZZ101.txt").write_text((PACK / "cpt" / "ZZ101.txt").read_text())
    for name, text in cpt_files.items():
        (pack / "cpt" / name).write_text(text)
    return pack


def test_pack_is_indexed_and_unknown_codes_are_reported(tmp_path):
    pack = _pack_with(tmp_path, {"NOPE9.json": '{"Summary": "for a code that does not exist"}'})
    settings = Settings.from_env(index_dir=tmp_path / "index", cache_dir=tmp_path / "cache", encoder="stub")
    report = build_index(settings, BuildRequest(systems=(), custom={"cpt": FIX / "custom-codes.csv"},
                                                content=(pack,)), log=lambda _m: None)
    assert any("cpt/NOPE9 is not a code" in w for w in report.warnings)
    engine = SearchEngine.open(settings)
    # "bench" and "dials" appear only in the pack's text, never in the code's official title.
    assert engine.search("dials bench", mode="lexical").hits[0].code == "ZZ101"
    stored = engine.store.content("cpt", "zz101")
    assert stored.section("Patient Experience").startswith("There is no patient")
    assert engine.store.manifest["content"]["entries"] == 1


def test_two_entries_for_one_code_are_a_clear_build_error_not_a_traceback(tmp_path):
    from embeddings.index.build import BuildError
    pack = _pack_with(tmp_path, {"zz101.json": '{"Summary": "the same code under another spelling"}'})
    settings = Settings.from_env(index_dir=tmp_path / "index", cache_dir=tmp_path / "cache", encoder="stub")
    with pytest.raises(BuildError, match="give cpt ZZ101 twice .*keep one entry per code"):
        build_index(settings, BuildRequest(systems=(), custom={"cpt": FIX / "custom-codes.csv"}, content=(pack,)),
                    log=lambda _m: None)
    assert not settings.index_dir.exists()


def test_a_source_file_is_named_by_its_file_name_only_in_public_fields(tmp_path, monkeypatch):
    from fastapi.testclient import TestClient

    from service.web.app import create_app
    settings = Settings.from_env(index_dir=tmp_path / "index", cache_dir=tmp_path / "cache", encoder="stub")
    build_index(settings, BuildRequest(systems=("icd10cm",), sources={"icd10cm": FIX / "tabular-mini.xml"}),
                log=lambda _m: None)
    client = TestClient(create_app(settings))
    for path in ("/api/systems", "/fhir/CodeSystem/icd10cm", "/health", "/"):
        text = client.get(path).text
        assert str(FIX) not in text and str(tmp_path) not in text, path
    assert "tabular-mini.xml" in client.get("/api/systems").text
