"""A custom code system with a content pack in Chromium: every section in page order, labelled, and Similar Codes."""
from __future__ import annotations

import pytest
from browser_support import MARKS, chromium, open_page
from serving import serve

from embeddings.codesets.content import SECTIONS

SYSTEM, CODE, SHORT, PACK = "demo", "ZZ101", "ZZ102", "knee-notes"
# Invented codes and titles: a small hierarchy under ZZ100 and ZZ200.
CODES = """code,title,description,parent,billable
ZZ100,Invented knee joint procedures,,,false
ZZ101,Invented knee joint flushing,,ZZ100,true
ZZ102,Invented knee joint flushing with camera,,ZZ100,true
ZZ103,Invented knee joint splint fitting,,ZZ100,true
ZZ104,Invented knee cartilage smoothing,,ZZ100,true
ZZ105,Invented knee joint drainage,,ZZ100,true
ZZ200,Invented shoulder procedures,,,false
ZZ201,Invented shoulder joint flushing,,ZZ200,true
ZZ202,Invented shoulder sling fitting,,ZZ200,true
ZZ203,Invented shoulder joint drainage,,ZZ200,true
"""
# Invented text for all of SECTIONS ("Name" plus the 14 sections of the example page), written in the plain-text
# page layout: site chrome first, then each heading on a line of its own and its text; computed Similar Codes last.
TEXT = {
    "Name": "Invented Knee Joint Flushing",
    "Summary": "A made-up procedure in which the knee joint is rinsed with a marmalade vortex of warm fluid.",
    "Purpose": "Written only for the browser test, to wash invented grit out of an invented knee.",
    "Indications": "- Invented grit is felt in the knee\n- The knee squeaks on stairs",
    "Preparation": "- Rest the knee on a folded towel.",
    "Procedure Description": "1. Mark the knee with a pen.\n2. Start the marmalade vortex.\n3. Let it drain away.",
    "Tools and Equipment": "- Rinse pump\n- Folded towel",
    "Duration": "Roughly twenty invented minutes.",
    "Setting": "A pretend day clinic.",
    "Personnel": "- One pretend clinician",
    "Risks and Complications": "- The towel may get wet (invented)",
    "Benefits": "- A quiet knee on stairs",
    "Recovery": "- Walk gently for an invented afternoon.",
    "Alternatives": "- Wait and see.",
    "Patient Experience": "A cool tickle and a faint gurgle, in this invented example.",
}
HEADINGS = {"Name": "Name of the Procedure:"}  # as the example page writes it


def page_text(sections: dict) -> str:
    out = ["Search all medical codes", "", "Invented knee joint flushing", "", "DEMO code", ""]
    for name, text in sections.items():
        out += [HEADINGS.get(name, name), "", *("  • " + line[2:] if line.startswith("- ") else line
                                              for line in text.splitlines()), ""]
    return "\n".join(out + ["Similar Codes", ""])


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    from embeddings.index.build import BuildRequest, build_index
    from embeddings.settings import Settings
    from service.search.engine import SearchEngine

    root = tmp_path_factory.mktemp("content-index")
    (root / "codes.csv").write_text(CODES)
    (root / PACK / SYSTEM).mkdir(parents=True)
    (root / PACK / SYSTEM / f"{CODE}.txt").write_text(page_text(TEXT))
    (root / PACK / SYSTEM / f"{SHORT}.txt").write_text(page_text({"Summary": "Like flushing, with a tiny camera.",
                                                                   "Duration": "Half an invented hour."}))
    settings = Settings.from_env(index_dir=root / "index", cache_dir=root / "cache", encoder="stub")
    report = build_index(settings, BuildRequest(prefixes=("K80", "0FT4"), custom={SYSTEM: root / "codes.csv"},
                                                content=(root / PACK,)), log=lambda _m: None)
    assert report.warnings == (), report.warnings
    return settings, SearchEngine.open(settings)


@pytest.fixture(scope="module")
def app(built):
    from service.web.app import create_app
    return create_app(*built)


def test_api_record_has_the_pack_sections_in_order_with_source(app):
    from fastapi.testclient import TestClient

    body = TestClient(app).get(f"/api/codes/{SYSTEM}/{CODE}").json()
    content = body["content"]
    assert content["source"] == PACK and content["official"] is False and PACK in content["label"]
    assert [(s["name"], s["text"]) for s in content["sections"]] == list(TEXT.items())
    assert list(TEXT) == list(SECTIONS)
    assert body["title"] == "Invented knee joint flushing"  # the official title is kept apart from the pack's Name
    short = TestClient(app).get(f"/api/codes/{SYSTEM}/{SHORT}").json()["content"]
    assert [s["name"] for s in short["sections"]] == ["Summary", "Duration"]
    assert TestClient(app).get(f"/api/codes/{SYSTEM}/ZZ103").json()["content"] is None


def test_pack_text_is_searchable(app):
    from fastapi.testclient import TestClient

    # "marmalade vortex" appears only in the pack's text, never in an official title.
    hits = TestClient(app).get("/api/search", params={"q": "marmalade vortex"}).json()["results"]
    assert hits and (hits[0]["system"], hits[0]["code"]) == (SYSTEM, CODE)


def in_browser(test):
    """MARKS on the browser tests only; the API tests above them run without Chromium."""
    for mark in MARKS:
        test = mark(test)
    return test


@pytest.fixture(scope="module")
def base_url(app):
    with serve(app) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    with chromium() as launched:
        yield launched


@pytest.fixture
def page(browser):
    outside: list = []
    page = open_page(browser, outside)
    yield page
    page.context.close()
    assert outside == [], f"the page tried to reach other hosts: {outside}"


@in_browser
def test_code_page_shows_every_section_in_order_with_its_label(page, base_url):
    page.goto(f"{base_url}/codes/{SYSTEM}/{CODE}")
    assert "Invented knee joint flushing" in page.locator("section.official h1").inner_text()
    official = page.locator("section.official")
    assert "marmalade" not in official.inner_text(), "authored text stays out of the official section"

    authored = page.locator("section.authored")
    assert authored.get_attribute("data-source") == PACK
    assert f"content pack «{PACK}»" in authored.locator("> p.muted").inner_text()
    sections = authored.locator("section.pack-section")
    assert [h.inner_text() for h in sections.locator("h3").all()] == list(SECTIONS)
    for i, (name, text) in enumerate(TEXT.items()):
        section = sections.nth(i)
        assert section.is_visible()
        label = section.locator("p.source-label.pack-label")
        assert label.is_visible()
        assert label.text_content() == f"From content pack «{PACK}» — authored text, not official"
        shown = " ".join(section.locator("p:not(.source-label), li").all_text_contents())
        for line in text.splitlines():
            assert line.lstrip("-0123456789. ") in shown, f"{name}: {line!r} not shown"
    assert sections.nth(3).locator("ul li").count() == 2, "Indications bullets become a list"
    assert sections.nth(5).locator("ol li").count() == 3, "numbered steps become an ordered list"
    # The page order: official content, then the pack's sections, then Similar Codes.
    order = page.evaluate("() => [...document.querySelectorAll('article.codepage > section')].map(s => s.className)")
    assert order.index("official") < order.index("authored") < order.index("similar"), order


@in_browser
def test_similar_codes_are_listed_with_reasons_and_link(page, base_url, built):
    page.goto(f"{base_url}/codes/{SYSTEM}/{CODE}")
    assert page.locator("#similar-heading").inner_text() == "Similar Codes"
    items = page.locator("section.similar ol.similar-list > li")
    assert items.count() >= 1
    hrefs = [a.get_attribute("href") for a in items.locator("a").all()]
    assert all(h.startswith("/codes/") for h in hrefs) and f"/codes/{SYSTEM}/{CODE}" not in hrefs
    reasons = [why.inner_text().strip() for why in items.locator(".why").all()]
    assert len(reasons) == len(hrefs) and all(reasons), "each Similar Code says why"
    assert any("same parent code (ZZ100)" in r for r in reasons), reasons
    link = items.first.locator("a")
    target = link.get_attribute("href")
    system, code = target.split("/")[2:4]
    link.click()
    page.wait_for_url(f"**{target}")
    assert built[1].store.record(system, code).title in page.locator("h1").inner_text()


@in_browser
def test_search_page_finds_the_code_by_pack_text(page, base_url):
    page.goto(f"{base_url}/?q=marmalade+vortex")
    first = page.locator("#results li.hit a").first
    first.wait_for(state="visible")
    assert first.get_attribute("href") == f"/codes/{SYSTEM}/{CODE}"
    first.click()
    page.wait_for_url(f"**/codes/{SYSTEM}/{CODE}")
    assert page.locator("section.authored section.pack-section").count() == len(SECTIONS)
