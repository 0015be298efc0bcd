"""Build-time groupings: CCS/CCSR and GEM tables read from package files, near-duplicate families, groupings.sqlite."""
import csv
import json
import sqlite3
from pathlib import Path

import pytest

from embeddings import groupings as gp
from embeddings.codesets import icd9
from embeddings.codesets.base import package_file
from embeddings.index import format as ix
from embeddings.records import Code, code_key


@pytest.fixture(scope="module")
def index_dir(fixture_settings) -> Path:
    return Path(fixture_settings.index_dir).resolve()


@pytest.fixture(scope="module")
def codes(index_dir) -> list[Code]:
    db = sqlite3.connect(index_dir / ix.CATALOGUE)
    try:
        return [Code.from_dict(json.loads(r[0])) for r in db.execute("SELECT record FROM codes ORDER BY id")]
    finally:
        db.close()


@pytest.fixture(scope="module")
def groupings_db(index_dir):
    db = sqlite3.connect(index_dir / gp.FILE)
    yield db
    db.close()


def test_groupings_file_is_part_of_the_checked_index(index_dir):
    manifest = ix.read_manifest(index_dir)
    assert gp.FILE in manifest["files"]
    assert manifest["files"][gp.FILE]["sha256"] == ix.file_digest(index_dir / gp.FILE)


def test_ccs_table_is_read_whole_with_labels():
    path = package_file(*gp.CCS_DX)
    with open(path, encoding="latin-1") as fh:
        data_lines = sum(1 for line in fh if line.strip()) - 1
    rows = gp.read_ccs(path, gp.CM, gp.read_level_labels(package_file(*gp.CCS_DX_LABELS)))
    single = [m for m in rows if m.scheme == "ccs"]
    assert len(single) == data_lines
    assert all(m.key == code_key(m.key) and m.group.isdigit() and m.label for m in single)
    assert {m.scheme for m in rows} == {"ccs", "ccs_level2"}


def test_level_labels_match_the_labels_in_the_mapping_file():
    labels = gp.read_level_labels(package_file(*gp.CCS_PR_LABELS))
    with open(package_file(*gp.CCS_PR), encoding="latin-1") as fh:
        rows = list(csv.reader(fh))[1:200]
    for row in rows:
        assert labels[row[6].strip("'")] == row[7].strip()


@pytest.mark.parametrize("raw, procedure, shown", [
    ("41011", False, "410.11"), ("E8000", False, "E800.0"), ("V010", False, "V01.0"),
    ("4701", True, "47.01"), ("250", False, "250"), ("0001", True, "00.01")])
def test_icd9_codes_get_their_decimal_point(raw, procedure, shown):
    assert icd9.display(icd9.SG if procedure else icd9.DX, raw) == shown


def test_written_rows_only_name_codes_of_the_build(codes, groupings_db):
    present = {(c.system, c.key) for c in codes}
    for table in ("groups", "families", "gems"):
        rows = groupings_db.execute(f"SELECT system, key FROM {table}").fetchall()
        assert rows, table
        assert set(rows) <= present, table


def test_gems_carry_icd9_titles_from_the_cms_files(groupings_db):
    titles = icd9.read_titles(package_file(*gp.ICD9_DX_TITLES))
    shown = {icd9.display(icd9.DX, code): title for code, title in titles.items()}
    rows = groupings_db.execute("SELECT icd9, title FROM gems WHERE system = 'icd10cm'").fetchall()
    assert rows and all(shown.get(icd9) == title for icd9, title in rows)
    assert not groupings_db.execute("SELECT count(*) FROM gems WHERE icd9 IN ('NoDx', 'NoPCS') OR title = ''"
                                    ).fetchone()[0]


def _family_of(families, key):
    return next((f for f in families if f.key == key), None)


def test_cm_families_fold_side_and_seventh_character_only(codes):
    families = gp.cm_families(codes)
    by_code = {c.code: c for c in codes}
    right, left, other = (_family_of(families, code_key(k)) for k in ("S72.001A", "S72.002D", "S72.011A"))
    assert right.stem == left.stem != other.stem
    assert (right.side, left.side) == ("right", "left")
    assert right.detail == by_code["S72.001A"].seventh[0][1]
    assert _family_of(families, code_key("I21.01")) is None  # no side, no 7th character: stands alone
    for f in families:
        code = next(c for c in codes if c.system == gp.CM and c.key == f.key)
        assert code.billable
        if f.side in ("right", "left", "bilateral"):
            assert f.side in code.title.lower()


def test_pcs_families_fold_side_and_qualifier_but_not_device(codes):
    families = gp.pcs_families(codes)
    right, left, device = (_family_of(families, k) for k in ("0SR9019", "0SRB019", "0SR90J9"))
    assert right.stem == left.stem
    assert device is not None and device.stem != right.stem
    assert (right.side, left.side) == ("right", "left")
    stems: dict = {}
    for f in families:
        stems.setdefault(f.stem, set()).add(f.key[:3] + f.key[4:6])
    assert all(len(v) == 1 for v in stems.values())  # members differ only in body part side and qualifier


def test_a_rebuild_copies_the_groupings_of_the_same_codes_from_the_cache(tmp_path, monkeypatch):
    import sqlite3

    from embeddings import groupings
    from embeddings.index.build import BuildRequest, load_codesets
    codes = [c for s in load_codesets(BuildRequest(systems=("icd10cm",), prefixes=("K92",))) for c in s.codes]
    groupings.write_cached(tmp_path / "a.sqlite", codes, tmp_path / "cache")
    monkeypatch.setattr(groupings, "write", lambda *_a: pytest.fail("wrote again instead of copying the cache"))
    groupings.write_cached(tmp_path / "b.sqlite", codes, tmp_path / "cache")
    assert (tmp_path / "a.sqlite").read_bytes() == (tmp_path / "b.sqlite").read_bytes()
    with sqlite3.connect(tmp_path / "b.sqlite") as db:
        assert db.execute("SELECT count(*) FROM groups").fetchone()[0] > 0
    with pytest.raises(pytest.fail.Exception):
        groupings.write_cached(tmp_path / "c.sqlite", codes[:-1], tmp_path / "cache")  # other codes: written afresh
