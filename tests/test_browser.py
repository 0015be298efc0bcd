"""The site in a real browser: Debian's Chromium, headless, driven by Playwright against the fixture index."""
from __future__ import annotations

import re

import pytest
from browser_support import MARKS, chromium, open_page, screenshot_dir
from serving import serve

pytestmark = MARKS


@pytest.fixture(scope="module")
def base_url(fixture_settings, engine):
    """uvicorn in a thread on a free port of 127.0.0.1, serving the fixture index."""
    from service.web.app import create_app

    with serve(create_app(fixture_settings, engine)) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    with chromium() as launched:
        yield launched


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    return screenshot_dir(tmp_path_factory)


@pytest.fixture
def outside_requests():
    return []


@pytest.fixture
def page(browser, outside_requests):
    page = open_page(browser, outside_requests)
    yield page
    page.context.close()
    assert outside_requests == [], f"the page tried to reach other hosts: {outside_requests}"


def result_codes(page) -> list[str]:
    return [a.get_attribute("href").rsplit("/", 1)[1] for a in page.locator("#results li.hit > a").all()]


def test_typing_heart_attac_shows_an_i21_code_as_you_type(page, base_url):
    page.goto(base_url + "/")
    page.locator("#q").press_sequentially("heart attac", delay=40)
    # the results of the last search typed, not of an early one ('h') a slow machine answered on the way
    page.locator("#status", has_text="heart attac").wait_for(state="visible", timeout=8_000)
    first_i21 = page.locator('#results li.hit a[href^="/codes/icd10cm/I21"]').first
    first_i21.wait_for(state="visible", timeout=8_000)
    assert re.search(r"[?&]q=heart(\+|%20)attac\b", page.url), page.url
    assert page.locator("#results mark").count() > 0, "matched words are highlighted"
    assert "codes for" in page.locator("#status").inner_text()


def test_search_to_code_page_to_similar_code(page, base_url, engine, shots):
    page.goto(base_url + "/")
    page.locator("#q").press_sequentially("heart attack", delay=30)
    link = page.locator('#results li.hit a[href^="/codes/icd10cm/I21"]').first
    link.wait_for(state="visible")
    page.screenshot(path=str(shots / "search.png"))
    code = link.get_attribute("href").rsplit("/", 1)[1]
    link.click()
    page.wait_for_url(f"**/codes/icd10cm/{code}")

    record = engine.store.record("icd10cm", code)
    assert record.title in page.locator("h1").inner_text()
    assert "Official ICD-10-CM" in page.locator(".source-label").text_content()
    crumbs = page.locator('nav[aria-label="Hierarchy"] a')
    crumb_targets = [a.get_attribute("href") for a in crumbs.all()]
    for parent in record.parents:
        assert f"/codes/icd10cm/{parent}" in crumb_targets
    similar = page.locator("section.similar ol li a")
    assert similar.count() >= 5
    page.screenshot(path=str(shots / "code-page.png"), full_page=True)

    target = similar.first.get_attribute("href").rsplit("/", 1)[1]
    similar.first.click()
    page.wait_for_url(f"**/codes/icd10cm/{target}")
    assert engine.store.record("icd10cm", target).title in page.locator("h1").inner_text()


def test_a_result_lists_its_7th_character_siblings_under_its_card(page, base_url, engine, shots):
    page.goto(base_url + "/")
    page.locator("#q").press_sequentially("displaced fracture of neck of right femur", delay=20)
    also = page.locator("#results li.hit .also").first
    also.wait_for(state="visible", timeout=8_000)  # drawn by search.js as the query is typed
    holder = also.locator("xpath=..").locator("a").first.get_attribute("href").rsplit("/", 1)[1]
    page.set_viewport_size({"width": 1100, "height": 900})
    page.screenshot(path=str(shots / "families.png"))
    summary = also.locator("summary")
    if summary.count():  # a long list is folded: its summary names the heading and the 7th characters
        assert summary.inner_text().startswith("also ") and "7th character" in summary.inner_text()
        summary.click()
    sibling = also.locator("a").first
    code = sibling.get_attribute("href").rsplit("/", 1)[1]
    assert code != holder and code[:6] == holder[:6], (holder, code)
    assert sibling.get_attribute("title") == engine.store.record("icd10cm", code).title
    assert sibling.is_visible()
    sibling.click()
    page.wait_for_url(f"**/codes/icd10cm/{code}")


def test_a_deleted_code_page_says_so_and_leads_to_its_successor(page, base_url, shots):
    page.goto(base_url + "/?q=S30.1XXA")
    page.locator('#results li.hit a[href="/codes/icd10cm/S30.1XXA"]').first.wait_for(state="visible")
    assert "Inactive" in page.locator("#results li.hit").first.inner_text()
    page.goto(base_url + "/codes/icd10cm/S30.1XXA")
    validity = page.locator(".validity")
    assert "deleted since" in validity.inner_text() and "FY2024" in validity.inner_text()
    page.set_viewport_size({"width": 1100, "height": 700})
    page.screenshot(path=str(shots / "code-history.png"))
    validity.locator('a[href="/codes/icd10cm/S30.11XA"]').click()
    page.wait_for_url("**/codes/icd10cm/S30.11XA")
    assert "New since FY2024" in page.locator(".validity").inner_text()


def test_arrow_keys_and_enter_open_the_chosen_result(page, base_url):
    page.goto(base_url + "/")
    page.locator("#q").press_sequentially("K92", delay=30)
    page.locator("#results li.hit").nth(1).wait_for(state="visible")
    second = result_codes(page)[1]
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    assert page.locator("#results li.hit").nth(1).get_attribute("aria-selected") == "true"
    assert page.locator("#q").get_attribute("aria-activedescendant") == "hit-1"
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/codes/icd10cm/{second}")


def test_billable_filter_and_shared_url(page, base_url):
    page.goto(base_url + "/?q=gallbladder&billable=true&system=icd10pcs")
    rows = page.locator("#results li.hit")
    rows.first.wait_for(state="visible")
    assert rows.count() == page.locator("#results li.hit .badge.billable").count() > 0
    assert all(code.startswith("0") for code in result_codes(page))
    page.locator("#billable").uncheck()
    page.wait_for_function("() => !location.search.includes('billable')")
    assert page.locator("#q").input_value() == "gallbladder"


def test_pages_work_without_javascript(browser, base_url, outside_requests):
    page = open_page(browser, outside_requests, java_script_enabled=False)
    try:
        page.goto(base_url + "/")
        page.locator("#q").fill("gallbladder removal")
        page.locator("#search button[type=submit]").click()
        page.wait_for_url("**/?q=gallbladder+removal**")
        assert page.locator("#results li.hit").count() > 0
        page.goto(base_url + "/codes/icd10pcs/0FT44ZZ")
        assert "Resection of Gallbladder" in page.locator("h1").inner_text()
        assert "generated from the ICD-10-PCS definitions" in page.locator("section.generated h2").inner_text()
        assert page.locator("table.axes tbody tr").count() == 7
    finally:
        page.context.close()
    assert outside_requests == []


@pytest.mark.parametrize("path", ["/?q=fracture+of+femur", "/codes/icd10cm/S72.001", "/codes/icd10pcs/0FT44ZZ"])
def test_readable_at_phone_width(browser, base_url, outside_requests, path):
    page = open_page(browser, outside_requests, viewport={"width": 375, "height": 740})
    try:
        page.goto(base_url + path)
        page.locator("h1").wait_for()
        overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{path} scrolls sideways by {overflow}px at 375px"
    finally:
        page.context.close()


def test_unknown_code_page_offers_a_search(page, base_url):
    response = page.goto(base_url + "/codes/icd10cm/Q99.999")
    assert response.status == 404
    page.locator("#search-for").click()
    page.wait_for_url("**/?q=Q99.999**")


def test_api_docs_render_offline(page, base_url):
    pytest.importorskip("swagger_ui_bundle", reason="swagger-ui-bundle-v2 is not installed; /docs uses the CDN")
    page.goto(base_url + "/docs")
    paths = page.locator(".opblock-summary-path")
    paths.first.wait_for(state="visible")
    shown = {p.get_attribute("data-path") for p in paths.all()}
    assert {"/api/search", "/api/suggest", "/fhir/ValueSet/$expand"} <= shown
