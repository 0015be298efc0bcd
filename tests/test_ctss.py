"""The Clinical Table Search Service-shaped route answers in CTSS's array shape, so CTSS clients work unchanged."""
import pytest

# CTSS documents its answer as [total, codes, extra-data hash or null, display strings]; e.g. for
# /api/icd10cm/v3/search?sf=code,name&terms=tuberc: [N, ["A15.0", ...], null, [["A15.0", "<name>"], ...]].
DOCUMENTED = [7, ["K92.2"], None, [["K92.2", "Gastrointestinal hemorrhage, unspecified"]]]


def _same_shape(answer, documented=DOCUMENTED):
    total, codes, extra, shown = answer
    assert type(total) is int and total >= len(codes)
    assert isinstance(codes, list) and all(isinstance(c, str) for c in codes)
    assert extra is None or (isinstance(extra, dict) and all(len(v) == len(codes) for v in extra.values()))
    assert isinstance(shown, list) and len(shown) == len(codes)
    assert all(isinstance(row, list) and all(isinstance(x, str) for x in row) for row in shown)
    assert len(answer) == len(documented) and type(documented[0]) is int and documented[2] is None


def test_the_default_answer_has_the_documented_shape_and_medcodes_ranking(client):
    answer = client.get("/api/ctss/icd10cm/search", params={"terms": "gastrointestinal bleeding"}).json()
    _same_shape(answer)
    assert answer[2] is None and len(answer[1]) == 7  # CTSS's default page size
    assert answer[1][0].startswith("K92") and answer[3][0][0] == answer[1][0]
    assert answer[3][0][1] == client.get(f"/api/codes/icd10cm/{answer[1][0]}").json()["title"]


def test_display_extra_and_code_fields_and_paging(client):
    params = {"terms": "femur fracture", "maxList": 3, "df": "name", "ef": "billable,short:claim,kind", "cf": "code"}
    total, codes, extra, shown = client.get("/api/ctss/icd10cm/search", params=params).json()
    assert len(codes) == 3 and all(len(row) == 1 for row in shown)
    assert set(extra) == {"billable", "claim", "kind"} and all(isinstance(b, bool) for b in extra["billable"])
    later = client.get("/api/ctss/icd10cm/search", params={**params, "offset": 3}).json()
    assert later[0] == total and not set(later[1]) & set(codes)


def test_code_search_field_lists_codes_by_prefix(client):
    total, codes, _extra, shown = client.get("/api/ctss/icd10cm/search",
                                             params={"terms": "K92", "sf": "code", "maxList": 20}).json()
    assert codes and all(c.replace(".", "").startswith("K92") for c in codes) and total == len(codes)
    only = client.get("/api/ctss/icd10cm/search", params={"terms": "gallbladder", "q": "billable:true"}).json()
    billable = client.get("/api/ctss/icd10cm/search",
                          params={"terms": "gallbladder", "q": "billable:true", "ef": "billable"}).json()
    assert only[1] and all(billable[2]["billable"])


@pytest.mark.parametrize("params", [{"terms": "x", "maxList": 501}, {"terms": "x", "df": "colour"},
                                    {"terms": "x", "offset": 7499, "count": 7}, {"terms": "x", "q": "drop table"},
                                    {"terms": ""}])
def test_bad_parameters_are_a_400_with_a_message(client, params):
    response = client.get("/api/ctss/icd10cm/search", params=params)
    assert response.status_code == 400 and response.json()["message"]


def test_an_unknown_system_is_a_400(client):
    response = client.get("/api/ctss/snomed/search", params={"terms": "heart"})
    assert response.status_code == 400 and "snomed" in response.json()["message"]
