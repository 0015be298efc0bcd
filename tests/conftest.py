"""Shared fixtures: a small index built from real code tables under a few prefixes, with the stub encoder."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
# Settings come from MEDCODES_* variables: one left in the shell must not change what the tests build or serve.
# Two switches of the tests themselves stay: re-pinning the fixture figures and writing the README's screenshots.
TEST_SWITCHES = {"MEDCODES_PIN_FIXTURE", "MEDCODES_SCREENSHOTS"}
for _name in [n for n in os.environ if n.startswith("MEDCODES_") and n not in TEST_SWITCHES]:
    del os.environ[_name]

# In CI every test must run: a skip there means coverage went missing (no Chromium, an extra not installed), so it
# is reported as a failure. Locally a skip stays a skip.
STRICT = os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


def _fail_skip(report, what: str) -> None:
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    report.outcome = "failed"
    report.longrepr = f"CI=true: a skipped {what} is a failure here ({reason})"


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    outcome = yield
    report = outcome.get_result()
    if STRICT and report.skipped:
        _fail_skip(report, "test module")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if STRICT and report.skipped and not hasattr(report, "wasxfail"):
        _fail_skip(report, "test")

FIXTURES = Path(__file__).parent / "fixtures"
# Enough of both systems to exercise hierarchy, 7th characters, PCS tables and typical queries.
FIXTURE_PREFIXES = ("I10", "I2", "K35", "K80", "K92", "J18", "E11", "S72.0", "M17", "N20",
                    "0FT4", "0FB4", "0DTJ", "0SRC", "0SRD", "0SR9", "0SRB", "0270", "0210", "B02",
                    # code history: S30.1XXA was deleted after FY2024, B88.0 was billable then and has codes now
                    "S30.1", "B88.0",
                    # the retired ICD-9-CM parts and MS-DRG, each cut to a few branches
                    "icd9cm:410", "icd9cm:540", "icd9pcs:47.0", "icd9pcs:81.5", "msdrg:46", "msdrg:47")


@pytest.fixture(scope="session")
def fixture_settings(tmp_path_factory):
    from embeddings.index.build import BuildRequest, build_index
    from embeddings.settings import Settings

    root = tmp_path_factory.mktemp("medcodes-index")
    settings = Settings.from_env(index_dir=root / "index", cache_dir=root / "cache", encoder="stub")
    build_index(settings, BuildRequest(prefixes=FIXTURE_PREFIXES), log=lambda _m: None)
    return settings


@pytest.fixture(scope="session")
def engine(fixture_settings):
    from service.search.engine import SearchEngine
    return SearchEngine.open(fixture_settings)


@pytest.fixture(scope="session")
def client(fixture_settings, engine):
    from fastapi.testclient import TestClient

    from service.web.app import create_app
    return TestClient(create_app(fixture_settings, engine), raise_server_exceptions=False)
