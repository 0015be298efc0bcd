"""Fuzzing against the app's own OpenAPI schema (schemathesis): no 5xx, responses as documented, bad input a 4xx."""
from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

import pytest

schemathesis = pytest.importorskip("schemathesis", reason="schemathesis is not installed (pip install schemathesis)")
from schemathesis.config import SchemathesisConfig  # noqa: E402
from schemathesis.engine import Status, events  # noqa: E402

pytestmark = pytest.mark.slow

# Cases per operation and phase; the run stays well under a minute on two cores. Raise it for a deeper run.
EXAMPLES = int(os.environ.get("MEDCODES_FUZZ_EXAMPLES", "25"))
SEED = int(os.environ.get("MEDCODES_FUZZ_SEED", "7"))
CHECKS = ("not_a_server_error", "status_code_conformance", "content_type_conformance", "response_headers_conformance",
          "response_schema_conformance", "negative_data_rejection", "no_internals_in_responses")
OPERATIONS = {
    "GET /health", "GET /api/systems", "GET /api/search", "GET /api/suggest", "GET /api/codes/{system}/{code}",
    "GET /api/codes/{system}/{code}/children", "GET /api/codes/{system}/{code}/similar", "GET /fhir/metadata",
    "GET /fhir/CodeSystem/$lookup", "POST /fhir/CodeSystem/$lookup", "GET /fhir/CodeSystem/$validate-code",
    "POST /fhir/CodeSystem/$validate-code", "GET /fhir/ValueSet/$validate-code", "POST /fhir/ValueSet/$validate-code",
    "GET /fhir/ValueSet/$expand", "POST /fhir/ValueSet/$expand", "GET /fhir/CodeSystem", "GET /fhir/CodeSystem/{name}",
    "GET /api/autocode", "GET /api/ctss/{system}/search", "GET /fhir/CodeSystem/$subsumes",
    "POST /fhir/CodeSystem/$subsumes", "POST /fhir", "GET /fhir/ConceptMap/$translate", "POST /fhir/ConceptMap/$translate",
    "GET /fhir/ConceptMap", "GET /fhir/ConceptMap/{map_id}", "GET /api/validate",
}
INTERNALS = ("Traceback", 'File "', "site-packages", str(Path(__file__).resolve().parents[1]), "/tmp/")


@schemathesis.check
def no_internals_in_responses(ctx, response, case):
    """No stack trace, source file or folder path in any answer."""
    leaked = [marker for marker in INTERNALS if marker in response.text]
    if leaked:
        raise AssertionError(f"the response shows internals {leaked}: {response.text[:300]}")


@pytest.fixture(scope="module")
def fuzz_run(client):
    """One engine run over every operation: examples, coverage (boundary and one-violation cases) and fuzzing phases,
    positive and negative data. Returns the cases run and the failures, both by operation."""
    config = SchemathesisConfig.from_dict({
        "seed": SEED, "generation": {"mode": "all", "max-examples": EXAMPLES},
        "phases": {"stateful": {"enabled": False}},
        "checks": {"enabled": False, **{name: {"enabled": True} for name in CHECKS}},
    })
    schema = schemathesis.openapi.from_asgi("/openapi.json", client.app, config=config)
    cases, failures = defaultdict(int), defaultdict(set)
    for event in schemathesis.engine.from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished) and event.label:
            cases[event.label] += len(event.recorder.cases)
            for checks in event.recorder.checks.values():
                failures[event.label] |= {describe(c) for c in checks if c.status == Status.FAILURE}
        elif isinstance(event, (events.NonFatalError, events.FatalError)):
            failures[getattr(event, "label", "run")].add(f"error: {type(event.value).__name__}: {event.value}"[:300])
    return cases, failures


def describe(check) -> str:
    failure = check.failure_info.failure if check.failure_info else None
    return f"{check.name}: {failure.title} {failure.message[:200]}" if failure else check.name


def test_every_operation_in_the_schema_is_fuzzed(fuzz_run):
    cases, _failures = fuzz_run
    assert set(cases) == OPERATIONS
    assert all(cases[label] >= 5 for label in OPERATIONS), dict(cases)


def test_no_server_errors_and_every_response_as_documented(fuzz_run):
    _cases, failures = fuzz_run
    assert {label: sorted(found) for label, found in failures.items() if found} == {}


def test_the_custom_check_sees_a_leak(client):
    """The internals check is not vacuous: a body with a traceback fails it."""
    class Leaky:
        text = 'Traceback (most recent call last):\n  File "/srv/app.py", line 1'
    with pytest.raises(AssertionError, match="Traceback"):
        no_internals_in_responses(None, Leaky(), None)
