"""Blocking terminology work runs in worker threads: a slow FHIR request never stalls /health."""
import threading
import time

import httpx
from serving import serve

from service.web.app import create_app


def test_a_slow_expand_does_not_stall_other_requests(fixture_settings, engine):
    app = create_app(fixture_settings, engine)
    slow_started = threading.Event()
    real_expand = app.state.terminology.expand

    def slow_expand(params):
        slow_started.set()
        time.sleep(3)
        return real_expand(params)

    app.state.terminology.expand = slow_expand
    with serve(app) as url:
        slow = threading.Thread(target=lambda: httpx.get(
            url + "/fhir/ValueSet/$expand", params={"url": "http://hl7.org/fhir/sid/icd-10-cm", "filter": "heart"},
            timeout=30))
        slow.start()
        assert slow_started.wait(10)
        started = time.monotonic()
        assert httpx.get(url + "/health", timeout=10).status_code == 200
        assert time.monotonic() - started < 1.0  # answered while the expand still sleeps
        slow.join()


def test_a_deep_unfiltered_expand_page_is_a_seek(engine):
    store = engine.store
    ids = store.ids["icd10cm"]
    assert [r.id for r in store.page("icd10cm", 3, 5)] == [int(i) for i in ids[5:8]]
    assert store.page("icd10cm", 3, len(ids)) == [] and store.page("icd10cm", 3, 10**9) == []
    assert [r.id for r in store.page("icd10cm", 10, len(ids) - 2)] == [int(i) for i in ids[-2:]]
