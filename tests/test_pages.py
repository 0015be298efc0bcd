"""Server-rendered pages without a browser: the search page, code pages, 404 and 400 pages, and their helpers."""
from __future__ import annotations

import pytest

bs4 = pytest.importorskip("bs4", reason="beautifulsoup4 is not installed (pip install beautifulsoup4)")

from service.web.render import highlight, link_codes  # noqa: E402


def html(response, status: int = 200):
    assert response.status_code == status, response.text[:500]
    assert response.headers["content-type"].startswith("text/html")
    return bs4.BeautifulSoup(response.text, "html.parser")


def hit_codes(soup) -> list[str]:
    return [li.select_one(".code").get_text() for li in soup.select("#results li.hit")]


# -- search page -------------------------------------------------------------------------------------
def test_search_page_has_a_labelled_form_filters_and_landmarks(client, engine):
    soup = html(client.get("/"))
    assert soup.select_one("label[for=q]").get_text(strip=True)
    assert soup.select_one("input#q")["name"] == "q"
    systems = [o["value"] for o in soup.select("select#system option") if o["value"]]
    assert systems == list(engine.store.systems)
    chapters = [o["value"] for o in soup.select("select#chapter option") if o["value"]]
    assert "icd10cm:9" in chapters and "icd10pcs:0" in chapters
    assert soup.select_one("input#billable[type=checkbox]")
    for landmark in ("header", "nav", "main", "footer"):
        assert soup.find(landmark) is not None, landmark
    assert soup.select_one("a.skip")["href"] == "#main"


def test_search_results_render_without_javascript(client, engine):
    soup = html(client.get("/", params={"q": "gallbladder removal", "system": "icd10pcs"}))
    codes = hit_codes(soup)
    assert codes == [h.code for h in engine.search("gallbladder removal", "icd10pcs", limit=20).hits]
    assert soup.select_one("input#q")["value"] == "gallbladder removal"
    assert soup.select_one("select#system option[selected]")["value"] == "icd10pcs"
    first = soup.select_one("#results li.hit a")
    assert first["href"] == f"/codes/icd10pcs/{codes[0]}"
    assert "gallbladder" in {m.get_text().lower() for m in soup.select("#results li.hit:first-child mark")}
    assert "codes for" in soup.select_one("#status").get_text()


def test_search_page_links_to_the_next_page(client, engine):
    soup = html(client.get("/", params={"q": "femur"}))
    next_link = soup.select_one("a#next")["href"]
    assert "offset=20" in next_link
    second = html(client.get(next_link))
    expected = [h.code for h in engine.search("femur", limit=20, offset=20).hits]
    assert hit_codes(second) == expected


def test_chapter_filter_keeps_its_system(client, engine):
    soup = html(client.get("/", params={"q": "infarction", "chapter": "icd10cm:9"}))
    codes = hit_codes(soup)
    assert codes and {engine.store.record("icd10cm", c).chapter for c in codes} == {"9"}


def test_no_results_offers_broader_searches_and_completions(client):
    soup = html(client.get("/", params={"q": "k922", "chapter": "icd10cm:9"}))
    assert "No codes match" in soup.select_one("#status").get_text()
    broader = soup.select("#noresults ul.broader a")
    assert [a.get_text() for a in broader] == ["search every chapter"]
    assert "chapter" not in broader[0]["href"] and "q=k922" in broader[0]["href"]
    assert hit_codes(soup)[0] == "K92.2"  # completions of what was typed


@pytest.mark.parametrize("params", [{"q": "x" * 5000}, {"q": "\x00\x01"}, {"q": "heart", "offset": "abc"},
                                    {"q": "heart", "system": "snomed"}, {"q": "heart", "offset": "-4"},
                                    {"q": "heart", "offset": "9" * 40}, {"q": "heart", "chapter": "icd10cm:99"},
                                    {"q": "heart", "chapter": ":"}])
def test_bad_search_input_is_a_400_page_with_the_reason(client, params):
    soup = html(client.get("/", params=params), 400)
    assert soup.select_one("#status").get_text(strip=True)
    assert soup.select_one("input#q") is not None  # the form is still there to try again


def test_bytes_that_are_not_utf8_are_a_400_page(client):
    for path in ("/?q=%ff%fe", "/codes/icd10cm/K92%ff"):
        response = client.get(path)
        assert response.status_code == 400 and "not UTF-8" in html(response, 400).find("main").get_text()


def test_query_text_is_escaped(client):
    response = client.get("/", params={"q": "<script>alert(1)</script> fracture"})
    assert "<script>alert(1)" not in response.text
    assert "&lt;script&gt;" in response.text


# -- code pages --------------------------------------------------------------------------------------
def test_code_page_shows_official_content_hierarchy_children_and_notes(client, engine):
    soup = html(client.get("/codes/icd10cm/I21"))
    record = engine.store.record("icd10cm", "I21")
    assert "Official ICD-10-CM" in soup.select_one(".official .source-label").get_text()
    assert record.title in soup.find("h1").get_text()
    crumbs = [a["href"] for a in soup.select('nav[aria-label="Hierarchy"] a')]
    assert crumbs[1:] == ["/codes/icd10cm/9", "/codes/icd10cm/I20-I25"]
    assert soup.select_one('nav[aria-label="Hierarchy"] [aria-current=page]').get_text() == "I21"
    children = [a["href"].rsplit("/", 1)[1] for a in soup.select("ul.children a")]
    assert children == [row.code for row in engine.store.children("icd10cm", "I21")]
    labels = [dt.get_text() for dt in soup.select("dl.notes dt")]
    assert labels == ["Includes", "Excludes2", "Use additional code"]
    assert soup.select_one('dl.notes a[href="/codes/icd10cm/I25.2"]').get_text() == "I25.2"


def test_code_page_lists_similar_codes_with_reasons_then_crosswalks_and_source(client, engine):
    soup = html(client.get("/codes/icd10cm/I21.4"))
    items = soup.select("section.similar ol li")
    assert len(items) >= 5
    assert all(li.select_one("a")["href"].startswith("/codes/") and li.select_one(".why").get_text() for li in items)
    assert "/codes/icd10cm/I21.4" not in {li.select_one("a")["href"] for li in items}
    assert soup.select_one("section.crosswalks h2").get_text() == "Crosswalks"
    footer = soup.find("footer").get_text()
    info = engine.store.systems["icd10cm"]
    assert info["version"] in footer and info["licence"] in footer and info["source"] in footer


def test_seventh_character_table(client, engine):
    soup = html(client.get("/codes/icd10cm/S72.001"))
    rows = [[td.get_text() for td in tr.find_all("td")] for tr in soup.select("table.grid tbody tr")]
    assert rows == [list(pair) for pair in engine.store.record("icd10cm", "S72.001").seventh]


def described(soup) -> dict[str, str]:
    """The generated description's sub-sections by heading."""
    parts = soup.select("section.generated .described")
    return {div.find("h3").get_text(): div.get_text(" ", strip=True) for div in parts}


def test_pcs_page_shows_axes_then_the_labelled_generated_description(client):
    soup = html(client.get("/codes/icd10pcs/0FT44ZZ"))
    axes = soup.select("table.axes tbody tr")
    assert len(axes) == 7
    assert axes[2].find("th").get_text() == "Root Operation" and "Resection" in axes[2].get_text()
    assert "Cutting out or off" in axes[2].get_text()
    sections = [s.get("class")[0] for s in soup.select("article.codepage > section")]
    assert sections == ["official", "generated", "crosswalks", "similar"]
    generated = soup.select_one("section.generated")
    assert generated.find("h2").get_text() == \
        "Plain-language description — generated from the ICD-10-PCS definitions"
    parts = described(soup)
    assert list(parts) == ["Name", "Summary", "Procedure Description"]
    assert "Resection of the gallbladder" in parts["Name"] and "keyhole" in parts["Name"]
    assert "cutting out or off, without replacement, all of a body part" in parts["Summary"]
    steps = [li.get_text() for li in generated.select(".described:nth-of-type(3) ul li")]
    assert steps[0].startswith("Root Operation (character 3 = T): Resection")
    assert any(s.startswith("Approach (character 5 = 4): Percutaneous Endoscopic — entry, by puncture") for s in steps)
    assert "not part of the official code set" in generated.get_text()


def test_pcs_table_and_non_surgical_codes_get_descriptions_from_what_is_known(client, engine):
    table = described(html(client.get("/codes/icd10pcs/0FT")))
    assert "Every code in table 0FT is a resection in the hepatobiliary system and pancreas" in table["Summary"]
    imaging = next(r.code for r in engine.store.all_rows()
                   if r.system == "icd10pcs" and r.code.startswith("B") and r.kind == "code")
    summary = described(html(client.get(f"/codes/icd10pcs/{imaging}")))["Summary"]
    assert engine.store.record("icd10pcs", imaging).title in summary and "Imaging section" in summary


def test_cm_page_assembles_a_description_from_title_hierarchy_and_notes(client, engine):
    soup = html(client.get("/codes/icd10cm/K92.2"))
    assert "assembled from the official ICD-10-CM title, hierarchy and notes" in \
        soup.select_one("section.generated h2").get_text()
    parts = described(soup)
    assert parts["Name"].endswith(engine.store.record("icd10cm", "K92.2").title)
    assert "billable" in parts["Summary"] and "category K92 (Other diseases of digestive system)" in parts["Summary"]
    assert "Also described as: Gastric hemorrhage NOS" in parts["Summary"]
    notes = soup.select("section.generated .described:nth-of-type(3) li")
    assert any(li.get_text().startswith("Excludes1 (never coded together with this code), from this code:")
               for li in notes)
    assert any("from chapter 11" in li.get_text() for li in notes), "notes of the levels above apply too"


def test_unknown_code_is_a_404_page_offering_a_search(client):
    soup = html(client.get("/codes/icd10cm/Q99.999"), 404)
    assert soup.select_one("a#search-for")["href"] == "/?q=Q99.999&system=icd10cm"
    assert "Q99.999" in soup.find("h1").get_text()


@pytest.mark.parametrize("path, status", [("/codes/snomed/22298006", 404), ("/codes/icd10cm/K92%20%3Cb%3E", 400),
                                          ("/no/such/page", 404)])
def test_other_bad_paths_are_html_error_pages(client, path, status):
    soup = html(client.get(path), status)
    assert soup.find("h1").get_text() and soup.find("main").find("p").get_text()


def test_pages_allow_only_their_own_scripts(client):
    for path, status in (("/", 200), ("/codes/icd10cm/K92.2", 200), ("/codes/icd10cm/Q99.9", 404), ("/nope", 404)):
        response = client.get(path)
        assert response.status_code == status
        assert "default-src 'self'" in response.headers["content-security-policy"]
        soup = bs4.BeautifulSoup(response.text, "html.parser")
        assert all(tag.get("src") for tag in soup.find_all("script")), "no inline scripts"
        assert not soup.find_all(style=True) and not soup.find_all("style")


def test_static_assets_are_served(client):
    assert "addEventListener" in client.get("/static/search.js").text
    assert client.get("/static/style.css").headers["content-type"].startswith("text/css")


# -- helpers -----------------------------------------------------------------------------------------
def test_highlight_marks_matching_words_and_escapes_the_title():
    marked = str(highlight("Fractures of <right> femur", "fracture of femur"))
    assert marked == "<mark>Fractures</mark> of &lt;right&gt; <mark>femur</mark>"


def test_link_codes_links_only_codes_in_the_index():
    text = str(link_codes("old infarction (I25.2); tobacco (Z72.0); <b>", "icd10cm", {"I25.2"}))
    assert text == 'old infarction (<a href="/codes/icd10cm/I25.2">I25.2</a>); tobacco (Z72.0); &lt;b&gt;'


def test_code_page_lists_the_other_codes_whose_notes_name_it(client, engine):
    found = engine.store._catalogue.all("SELECT system, key, source, kind, text FROM mentions ORDER BY rowid LIMIT 1")
    assert found, "the fixture's tables have notes that name another code"
    system, key, source, kind, text = found[0]
    code = engine.store.record(system, key).code
    items = html(client.get(f"/codes/{system}/{code}")).select("ul.named-in li")
    assert any(text in li.get_text() and li.select_one(f'a[href="/codes/{system}/{source}"]') for li in items)
    body = client.get(f"/api/codes/{system}/{code}").json()
    assert any(m["code"] == source and m["kind"] == kind and m["text"] == text for m in body["named_in"])
