"""HTML pages under hostile input never answer 5xx, and every link the site prints leads somewhere that works."""
from collections import deque
from urllib.parse import quote, urljoin, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

bs4 = pytest.importorskip("bs4", reason="beautifulsoup4 is not installed (pip install beautifulsoup4)")

TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=60)
NUMBERISH = st.one_of(TEXT, st.integers(-10**30, 10**30).map(str), st.sampled_from(["--5", "²", "1e3", "0x10", " 7"]))
FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(q=TEXT, offset=NUMBERISH, system=st.one_of(TEXT, st.sampled_from(["icd10cm", "icd10pcs", "all", ""])),
       chapter=TEXT, billable=TEXT)
def test_the_search_page_answers_any_parameters_without_a_server_error(client, q, offset, system, chapter, billable):
    response = client.get("/", params={"q": q, "offset": offset, "system": system, "chapter": chapter,
                                       "billable": billable})
    assert response.status_code in (200, 400), (response.status_code, response.text[:300])
    assert response.headers["content-type"].startswith("text/html")


@FUZZ
@given(system=st.one_of(TEXT, st.just("icd10cm")), code=TEXT)
def test_code_pages_and_records_answer_any_path_without_a_server_error(client, system, code):
    for base in ("/codes", "/api/codes"):
        url = f"{base}/{quote(system, safe='')}/{quote(code, safe='')}"
        response = client.get(url)
        assert response.status_code in (200, 400, 404, 422), (url, response.status_code, response.text[:300])


def test_every_link_the_pages_print_works(client):
    """A crawler from the home page and a few searches: each same-site link answers 200 (up to 250 pages)."""
    queue = deque(["/", "/?q=fracture+of+femur", "/?q=gallbladder+removal", "/?q=k922", "/?q=heart&system=icd10cm"])
    seen, broken = set(queue), []
    visited = 0
    while queue and visited < 250:
        url = queue.popleft()
        response = client.get(url)
        visited += 1
        if response.status_code != 200:
            broken.append((url, response.status_code))
            continue
        if not response.headers["content-type"].startswith("text/html"):
            continue
        for anchor in bs4.BeautifulSoup(response.text, "html.parser").select("a[href]"):
            target = urljoin(url, anchor["href"])
            parts = urlsplit(target)
            if parts.netloc or not parts.path.startswith("/") or parts.path.startswith("/docs"):
                continue
            link = parts.path + (f"?{parts.query}" if parts.query else "")
            if link not in seen:
                seen.add(link)
                queue.append(link)
    assert visited > 50 and not broken, broken[:10]
