"""Index build: manifest, cache reuse, staleness, atomic swap, failed builds, locking and load-time refusals."""
import json
import os
import re
from pathlib import Path

import numpy as np
import pytest

from embeddings.documents import Document
from embeddings.encoders.stub import StubEncoder
from embeddings.index import format as ix
from embeddings.index import neighbours as nb
from embeddings.index.build import BuildError, BuildRequest, build_index, build_lock, builds_dir
from embeddings.settings import Settings
from service.search.engine import SearchEngine

FIX = Path(__file__).parent / "fixtures"
SMALL = BuildRequest(systems=("icd10cm",), sources={"icd10cm": FIX / "tabular-mini.xml"},
                     custom={"cpt": FIX / "custom-codes.csv"})


def _settings(tmp_path, **kw):
    return Settings.from_env(index_dir=tmp_path / "index", cache_dir=tmp_path / "cache", encoder="stub", **kw)


def _quiet(_message):
    pass


class ExplodingEncoder(StubEncoder):
    """Fails after a few batches, like a build killed half-way."""

    def __init__(self):
        super().__init__()
        self.calls = 0

    def encode(self, texts):
        self.calls += 1
        if self.calls > 1:
            raise RuntimeError("simulated crash during encoding")
        return super().encode(texts)


def test_manifest_records_model_counts_versions_and_checksums(tmp_path):
    settings = _settings(tmp_path)
    report = build_index(settings, SMALL, log=_quiet)
    manifest = ix.read_manifest(settings.index_dir)
    assert manifest["model"] == {"name": "stub-hash-384", "dim": 384}
    assert manifest["systems"]["icd10cm"]["version"] == "FY2031"
    assert manifest["counts"]["systems"]["cpt"]["codes"] == 3
    assert report.counts["billable"] == 7 + 2
    assert {"catalogue.sqlite", "dense-icd10cm.faiss", "ids-cpt.npy"} <= set(manifest["files"])
    assert all(len(meta["sha256"]) == 64 for meta in manifest["files"].values())


def test_unchanged_rebuild_encodes_nothing_and_if_stale_skips(tmp_path):
    settings = _settings(tmp_path)
    first = build_index(settings, SMALL, log=_quiet)
    again = build_index(settings, SMALL, log=_quiet)
    skipped = build_index(settings, SMALL, force=False, log=_quiet)
    assert first.encoded > 0 and again.encoded == 0 and again.reused == first.encoded + first.reused
    assert skipped.skipped
    changed = build_index(settings, BuildRequest(systems=("icd10cm",), sources=SMALL.sources), force=False, log=_quiet)
    assert not changed.skipped


def test_an_unchanged_rebuild_links_the_faiss_files_and_a_changed_or_damaged_one_builds_them(tmp_path):
    settings = _settings(tmp_path)
    first = build_index(settings, SMALL, log=_quiet)
    old = settings.index_dir.resolve()
    build_index(settings, SMALL, log=_quiet)
    new = settings.index_dir.resolve()
    manifest = ix.read_manifest(new)
    assert manifest["build"]["dense_reused"] == ["icd10cm", "cpt"] and manifest["dense"] == ix.read_manifest(old)["dense"]
    assert (new / ix.dense_file("icd10cm")).stat().st_ino == (old / ix.dense_file("icd10cm")).stat().st_ino
    assert SearchEngine.open(settings).search("widget").hits and first.encoded > 0
    with open(new / ix.dense_file("cpt"), "r+b") as fh:  # a damaged file of the serving build is never linked
        fh.seek(-8, os.SEEK_END)
        fh.write(b"\x00" * 8)
    again = build_index(settings, SMALL, log=_quiet)
    assert ix.read_manifest(settings.index_dir)["build"]["dense_reused"] == ["icd10cm"]
    assert again.counts == first.counts and SearchEngine.open(settings).search("widget").hits
    build_index(_settings(tmp_path, hnsw_m=16), SMALL, log=_quiet)  # other graph settings: nothing is linked
    assert ix.read_manifest(settings.index_dir)["build"]["dense_reused"] == []


def test_an_unchanged_rebuild_links_the_similar_codes_tables_and_a_changed_one_computes_them(tmp_path):
    settings = _settings(tmp_path)
    build_index(settings, SMALL, log=_quiet)
    old = settings.index_dir.resolve()
    build_index(settings, SMALL, log=_quiet)
    new = settings.index_dir.resolve()
    table = nb.PREFIX + "parent.npy"
    assert ix.read_manifest(new)["build"]["neighbours_reused"] is True
    assert (new / table).stat().st_ino == (old / table).stat().st_ino and table in ix.read_manifest(new)["files"]
    build_index(settings, BuildRequest(systems=("icd10cm",), sources=SMALL.sources), log=_quiet)
    changed = settings.index_dir.resolve()
    assert ix.read_manifest(changed)["build"]["neighbours_reused"] is False
    assert (changed / table).stat().st_ino != (new / table).stat().st_ino
    tables = nb.read(changed)
    assert tables is not None and len(tables.code) == ix.read_manifest(changed)["counts"]["codes"]


def test_a_rebuild_from_the_same_inputs_links_catalogue_and_groupings_and_changed_inputs_write_them(tmp_path):
    settings = _settings(tmp_path)
    build_index(settings, SMALL, log=_quiet)
    old = settings.index_dir.resolve()
    build_index(_settings(tmp_path, hnsw_m=16), SMALL, log=_quiet)  # other dense settings: same tables
    new = settings.index_dir.resolve()
    assert ix.read_manifest(new)["build"]["tables_reused"] is True
    for name in (ix.CATALOGUE, ix.GROUPINGS):
        assert (new / name).stat().st_ino == (old / name).stat().st_ino
    assert SearchEngine.open(settings).search("widget").hits
    with open(new / ix.CATALOGUE, "r+b") as fh:  # a damaged catalogue of the serving build is never linked
        fh.seek(-8, os.SEEK_END)
        fh.write(b"\x01" * 8)
    build_index(settings, SMALL, log=_quiet)
    assert ix.read_manifest(settings.index_dir)["build"]["tables_reused"] is False
    held = BuildRequest(systems=SMALL.systems, sources=SMALL.sources, custom=SMALL.custom,
                        held_out={("icd10cm", "M10"): frozenset({"widget"})})
    build_index(settings, held, log=_quiet)  # held-out terms change the documents: written afresh
    assert ix.read_manifest(settings.index_dir)["build"]["tables_reused"] is False


def test_the_inputs_digest_of_held_out_terms_is_the_same_in_every_process():
    """A held-out index built by one process (make eval) is reused by the next (make ranker), whatever its hash seed."""
    import subprocess
    import sys

    script = ("from embeddings.index.build import BuildRequest; from embeddings.index.reuse import inputs_digest; "
              "print(inputs_digest(BuildRequest(held_out={('icd10cm', 'M10'): frozenset("
              "{'widget', 'gadget', 'sprocket', 'flange', 'gizmo', 'doohickey'})})))")
    digests = {subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                              env={**os.environ, "PYTHONHASHSEED": seed}).stdout for seed in ("1", "2", "3")}
    assert len(digests) == 1


def test_loaded_code_sets_are_cached_by_their_inputs_and_a_damaged_cache_file_is_loaded_again(tmp_path):
    from embeddings.index import reuse
    from embeddings.index.build import load_codesets

    calls = []

    def load():
        calls.append(1)
        return load_codesets(SMALL)
    first = reuse.load_cached(SMALL, tmp_path, load)
    again = reuse.load_cached(SMALL, tmp_path, load)
    assert len(calls) == 1 and again == first
    other = BuildRequest(systems=("icd10cm",), sources=SMALL.sources)
    assert reuse.load_cached(other, tmp_path, lambda: load_codesets(other)) != first
    for cached in (tmp_path / "codesets").glob("*.pickle"):
        cached.write_bytes(b"not a pickle")
    assert reuse.load_cached(SMALL, tmp_path, load) == first and len(calls) == 2


def test_documents_are_cached_by_their_inputs_and_held_out_terms_make_others(tmp_path):
    import dataclasses

    from embeddings.index import reuse

    calls = []

    def make(label):
        calls.append(label)
        return [Document("icd10cm", "M10", label, "Gout", "", "")]
    first = reuse.documents_cached(SMALL, tmp_path, lambda: make("a"))
    assert reuse.documents_cached(SMALL, tmp_path, lambda: make("b")) == first and calls == ["a"]
    held = dataclasses.replace(SMALL, held_out={("icd10cm", "M10"): frozenset({"podagra"})})
    assert reuse.documents_cached(held, tmp_path, lambda: make("c"))[0].embed_text == "c"
    for cached in (tmp_path / "documents").glob("*.pickle"):
        cached.write_bytes(b"not a pickle")
    assert reuse.documents_cached(SMALL, tmp_path, lambda: make("d"))[0].embed_text == "d"


def test_new_build_swaps_in_atomically_and_old_build_stays_readable(tmp_path):
    settings = _settings(tmp_path)
    build_index(settings, SMALL, log=_quiet)
    old_target = settings.index_dir.resolve()
    old_engine = SearchEngine.open(settings)
    build_index(settings, BuildRequest(systems=("icd10cm",), sources=SMALL.sources), log=_quiet)
    assert settings.index_dir.is_symlink() and settings.index_dir.resolve() != old_target
    assert old_target.exists()  # the previous build is kept, so a process still reading it keeps working
    assert old_engine.search("widget").hits
    assert "cpt" not in SearchEngine.open(settings).store.systems


def test_a_build_failing_while_encoding_keeps_the_previous_index(tmp_path):
    settings = _settings(tmp_path, batch_size=2)
    build_index(settings, SMALL, log=_quiet)
    before = settings.index_dir.resolve()
    with pytest.raises(RuntimeError, match="simulated crash"):
        build_index(settings.replace(cache_dir=tmp_path / "fresh-cache"), SMALL, encoder=ExplodingEncoder(),
                    log=_quiet)
    assert settings.index_dir.resolve() == before
    assert SearchEngine.open(settings).search("sprocket").hits


def test_a_build_failing_after_it_wrote_files_leaves_no_debris_and_keeps_the_index(tmp_path, monkeypatch):
    from embeddings.index import build as build_module
    settings = _settings(tmp_path)
    build_index(settings, SMALL, log=_quiet)
    before = settings.index_dir.resolve()
    written = []

    def refuse(directory, *_args):
        written.append((directory, sorted(p.name for p in directory.iterdir())))
        raise BuildError("simulated validation failure")

    monkeypatch.setattr(build_module, "validate_build", refuse)
    with pytest.raises(BuildError, match="simulated"):
        build_index(settings, SMALL, log=_quiet)
    (directory, files), = written
    assert directory.name.startswith(".tmp-") and "catalogue.sqlite" in files  # it failed with a half-made build
    assert not directory.exists() and not list(builds_dir(settings.index_dir).glob(".tmp-*"))
    assert settings.index_dir.resolve() == before
    assert SearchEngine.open(settings).search("sprocket").hits


KILLED_BUILD = """
import sys, time
from pathlib import Path
from embeddings.index import build
from embeddings.settings import Settings
build.validate_build = lambda *a: (Path(sys.argv[2]).touch(), time.sleep(600))
settings = Settings.from_env(index_dir=Path(sys.argv[1]) / "index", cache_dir=Path(sys.argv[1]) / "cache", encoder="stub")
build.build_index(settings, build.BuildRequest(systems=(), custom={"cpt": Path(sys.argv[3])}), log=lambda m: None)
"""


def test_a_killed_build_never_replaces_the_index_and_the_next_build_clears_its_debris(tmp_path):
    import signal
    import subprocess
    import sys
    import time
    settings = _settings(tmp_path)
    build_index(settings, SMALL, log=_quiet)
    before = settings.index_dir.resolve()
    ready = tmp_path / "written"
    proc = subprocess.Popen([sys.executable, "-c", KILLED_BUILD, str(tmp_path), str(ready), str(FIX / "custom-codes.csv")])
    try:
        deadline = time.monotonic() + 120
        while not ready.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert ready.exists(), "the build never reached its validation step"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    debris = list(builds_dir(settings.index_dir).glob(".tmp-*"))
    assert len(debris) == 1 and (debris[0] / "catalogue.sqlite").exists()
    assert settings.index_dir.resolve() == before
    assert "cpt" in SearchEngine.open(settings).store.systems and SearchEngine.open(settings).search("sprocket").hits
    build_index(settings, SMALL, log=_quiet)
    assert not debris[0].exists()


def test_second_concurrent_build_is_refused(tmp_path):
    settings = _settings(tmp_path)
    with build_lock(settings.index_dir):
        with pytest.raises(BuildError, match="another build"):
            build_index(settings, SMALL, log=_quiet)


def test_debris_of_a_killed_build_is_cleaned_by_the_next_build(tmp_path):
    settings = _settings(tmp_path)
    debris = builds_dir(settings.index_dir) / ".tmp-20200101T000000-1"
    debris.mkdir(parents=True)
    (debris / "catalogue.sqlite").write_bytes(b"half")
    build_index(settings, SMALL, log=_quiet)
    assert not debris.exists()


def test_index_built_for_another_model_is_refused(tmp_path):
    settings = _settings(tmp_path)
    build_index(settings, SMALL, log=_quiet)
    with pytest.raises(ix.IndexLoadError, match="built with model 'stub-hash-384'.*running 'stub-hash-128'"):
        SearchEngine.open(settings, encoder=StubEncoder(dim=128))


def test_truncated_or_corrupted_files_are_detected(tmp_path):
    settings = _settings(tmp_path)
    build_index(settings, SMALL, log=_quiet)
    dense = settings.index_dir / "dense-icd10cm.faiss"
    data = dense.read_bytes()
    dense.write_bytes(data[:-10])
    with pytest.raises(ix.IndexLoadError, match="truncated"):
        SearchEngine.open(settings)
    dense.write_bytes(bytes([data[0] ^ 0xFF]) + data[1:])
    with pytest.raises(ix.IndexLoadError, match="checksum"):
        SearchEngine.open(settings)


def test_a_server_start_hashes_each_index_file_once_and_still_finds_a_file_changed_since(tmp_path, monkeypatch):
    from embeddings import files
    from embeddings.index.store import IndexStore

    settings = _settings(tmp_path)
    build_index(settings, SMALL, log=_quiet)
    IndexStore(settings.index_dir, memo_dir=settings.cache_dir)  # the first start hashes every file
    hashed = []
    real = files.file_digest
    monkeypatch.setattr(files, "file_digest", lambda path: hashed.append(path) or real(path))
    IndexStore(settings.index_dir, memo_dir=settings.cache_dir)
    assert hashed == []  # a second start (another worker) reads the digests it can trust
    catalogue = settings.index_dir / ix.CATALOGUE
    data = bytearray(catalogue.read_bytes())
    data[-9] ^= 0xFF  # same size, other bytes, rewritten in place
    catalogue.write_bytes(bytes(data))
    with pytest.raises(ix.IndexLoadError, match="fails its checksum"):
        IndexStore(settings.index_dir, memo_dir=settings.cache_dir)
    assert [p.name for p in hashed] == [ix.CATALOGUE]


def test_missing_index_says_how_to_build(tmp_path):
    with pytest.raises(ix.IndexLoadError, match="medcodes build"):
        SearchEngine.open(_settings(tmp_path))


def test_ids_sidecar_maps_every_vector_to_its_catalogue_row(tmp_path):
    settings = _settings(tmp_path)
    build_index(settings, SMALL, log=_quiet)
    engine = SearchEngine.open(settings)
    for system, ids in engine.store.ids.items():
        assert engine.store.dense[system].ntotal == len(ids)
        systems = {r.system for r in engine.store.rows([int(i) for i in ids]).values()}
        assert systems == {system}
        assert np.all(np.diff(ids) > 0)


def test_settings_env_overrides_are_typed(tmp_path):
    env = {"MEDCODES_PORT": "9001", "MEDCODES_VERIFY_CHECKSUMS": "no", "MEDCODES_INDEX_DIR": str(tmp_path)}
    settings = Settings.from_env(env)
    assert settings.port == 9001 and settings.verify_checksums is False and settings.index_dir == tmp_path
    with pytest.raises(ValueError, match="MEDCODES_PORT='x'"):
        Settings.from_env({"MEDCODES_PORT": "x"})


@pytest.mark.parametrize("env, message", [
    ({"MEDCODES_CANDIDATES": "0"}, "MEDCODES_CANDIDATES=0 is out of range: it must be at least 1"),
    ({"MEDCODES_HNSW_EF_SEARCH": "-8"}, "MEDCODES_HNSW_EF_SEARCH=-8 is out of range"),
    ({"MEDCODES_PORT": "70000"}, "it must be from 1 to 65535"),
    ({"MEDCODES_WATCH_SECONDS": "-1"}, "MEDCODES_WATCH_SECONDS=-1.0 is out of range"),
])
def test_settings_out_of_range_are_refused_by_name(env, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        Settings.from_env(env)
    assert Settings.from_env({"MEDCODES_THREADS": "0", "MEDCODES_MAX_OFFSET": "0"}).threads == 0


def test_manifest_is_valid_json_with_format(tmp_path):
    settings = _settings(tmp_path)
    build_index(settings, SMALL, log=_quiet)
    manifest = json.loads((settings.index_dir / "manifest.json").read_text())
    assert manifest["format"] == ix.FORMAT and manifest["fingerprint"]
    assert os.path.islink(settings.index_dir)
