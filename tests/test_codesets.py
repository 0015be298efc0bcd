"""Code-set loaders on hand-written fixture files, the packaged tables, and malformed input."""
from pathlib import Path

import pytest

from embeddings.codesets import SourceError, custom, icd10cm, icd10pcs, load_codeset

FIX = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def mini_cm():
    return {c.code: c for c in icd10cm.load(FIX / "tabular-mini.xml").codes}


def test_icd10cm_hierarchy_and_version(mini_cm):
    assert mini_cm["1"].kind == "chapter"
    assert mini_cm["Q10-Q14"].kind == "block" and mini_cm["Q10-Q14"].title == "Test blocks of mock disorders"
    assert mini_cm["Q10.0"].parents == ("1", "Q10-Q14", "Q10")
    assert mini_cm["Q10.0"].version == "FY2031"


def test_icd10cm_single_category_block_is_not_duplicated(mini_cm):
    assert mini_cm["Q15"].kind == "category" and mini_cm["Q15"].parents == ("1",)
    assert mini_cm["Q15"].section == "Q15"


def test_icd10cm_notes_are_kept(mini_cm):
    assert mini_cm["Q10.0"].notes_of("inclusion") == ["Sinistral widget malady"]
    assert mini_cm["Q10.0"].notes_of("code_first") == ["underlying gadget failure (Q12.-)"]
    assert mini_cm["Q10"].notes_of("includes") == ["widget trouble"]
    assert mini_cm["Q11.1"].notes_of("excludes1") == ["mock sprain of the sprocket (Q11.0-)"]
    assert mini_cm["1"].notes_of("excludes2") == ["conditions tested elsewhere (Q90-Q99)"]


def test_icd10cm_seventh_characters_expand_with_placeholder(mini_cm):
    assert not mini_cm["Q11.01"].billable and mini_cm["Q11.01"].seventh == (("A", "initial encounter"),
                                                                           ("D", "subsequent encounter"))
    assert mini_cm["Q11.01XA"].billable
    assert mini_cm["Q11.01XA"].title == "Mock sprain of the right sprocket, initial encounter"
    assert mini_cm["Q11.01XA"].parents[-1] == "Q11.01"
    assert mini_cm["Q11.1XXD"].title == "Mock crush of the sprocket, subsequent encounter"
    billable = sorted(c for c, v in mini_cm.items() if v.billable)
    assert billable == ["Q10.0", "Q10.9", "Q11.01XA", "Q11.01XD", "Q11.1XXA", "Q11.1XXD", "Q15"]


def test_icd10cm_truncated_xml_names_file_and_line():
    with pytest.raises(SourceError) as err:
        icd10cm.load(FIX / "tabular-truncated.xml")
    assert "tabular-truncated.xml:1" in str(err.value)


def test_icd10cm_wrong_root_is_refused(tmp_path):
    bad = tmp_path / "other.xml"
    bad.write_text("<catalog><item/></catalog>")
    with pytest.raises(SourceError, match="expected <ICD10CM.tabular>"):
        icd10cm.load(bad)


def test_pcs_order_file_keeps_only_valid_codes():
    titles = icd10pcs.read_order_file(FIX / "pcs-order-mini.txt")
    assert titles == {"0FT40ZZ": "Resection of Gallbladder, Open Approach",
                      "0FT44ZZ": "Resection of Gallbladder, Percutaneous Endoscopic Approach",
                      "B020ZZZ": "Computerized Tomography (CT Scan) of Brain"}


def test_pcs_from_order_file_gets_axes_and_groups():
    codes = {c.code: c for c in icd10pcs.load(FIX / "pcs-order-mini.txt").codes}
    gallbladder = codes["0FT44ZZ"]
    axes = {a.name: a.label for a in gallbladder.axes}
    assert axes["Root Operation"] == "Resection" and axes["Body Part"] == "Gallbladder"
    assert axes["Approach"] == "Percutaneous Endoscopic"
    assert "Cholecystectomy" in gallbladder.terms
    assert codes["0FT"].kind == "table" and codes["0F"].kind == "body_system" and codes["0"].kind == "section"
    assert gallbladder.parents == ("0", "0F", "0FT")


def test_pcs_order_file_garbage_is_refused(tmp_path):
    bad = tmp_path / "order.txt"
    bad.write_text("this is not an order file\n")
    with pytest.raises(SourceError, match="order.txt:1"):
        icd10pcs.read_order_file(bad)


def test_packaged_tables_have_full_counts():
    cm = load_codeset("icd10cm")
    pcs = load_codeset("icd10pcs")
    assert cm.info.counts["billable"] >= 74_000 and cm.info.counts["codes"] >= 98_000
    assert pcs.info.counts["billable"] >= 78_000
    assert len({c.key for c in cm.codes}) == len(cm.codes)
    sepsis = next(c for c in cm.codes if c.code == "A40")
    # The tabular writes "<note>, if applicable, postprocedural sepsis ...</note>" under "Code first".
    assert any(n.startswith("if applicable, postprocedural sepsis") for n in sepsis.notes_of("code_first"))
    stent = next(c for c in pcs.codes if c.code == "027034Z")
    assert {a.name: a.label for a in stent.axes}["Device"] == "Intraluminal Device, Drug-eluting"


def test_custom_csv_builds_parent_chain():
    codes = {c.code: c for c in custom.load("cpt", FIX / "custom-codes.csv").codes}
    assert codes["ZZ101"].parents == ("ZZ100",) and codes["ZZ101"].billable
    assert not codes["ZZ100"].billable
    assert codes["ZZ101"].description.startswith("A made-up procedure")


def test_custom_jsonl_is_read():
    cs = custom.load("hcpcs", FIX / "custom-codes.jsonl")
    assert {c.code for c in cs.codes} == {"YY1", "YY1.5"}
    assert cs.info.licence.startswith("Supplied by the operator")


@pytest.mark.parametrize("name, message", [
    ("custom-bad-quote.csv", "custom-bad-quote.csv"),
    ("custom-duplicate.csv", "custom-duplicate.csv:3: duplicate code"),
    ("custom-bad.jsonl", "custom-bad.jsonl:2: not a JSON object"),
])
def test_custom_malformed_files_name_file_and_line(name, message):
    with pytest.raises(SourceError) as err:
        custom.load("cpt", FIX / name)
    assert message in str(err.value)


def test_custom_text_is_never_evaluated(tmp_path):
    path = tmp_path / "codes.csv"
    path.write_text('code,title\nX1,"__import__(\'os\').system(\'false\')"\nX2,=HYPERLINK("x")\n')
    codes = {c.code: c.title for c in custom.load("cpt", path).codes}
    assert codes == {"X1": "__import__('os').system('false')", "X2": '=HYPERLINK("x")'}


def test_custom_rejects_builtin_names_and_binary(tmp_path):
    with pytest.raises(ValueError, match="built-in"):
        custom.load("icd10cm", FIX / "custom-codes.csv")
    blob = tmp_path / "blob.csv"
    blob.write_bytes(b"code,title\n\xff\xfe\x00bad\n")
    with pytest.raises(SourceError, match="blob.csv:2: not valid UTF-8"):
        custom.load("cpt", blob)


def test_code_to_dict_is_what_dataclasses_asdict_gives():
    import dataclasses
    import json

    from embeddings.index.build import BuildRequest, load_codesets
    sets = load_codesets(BuildRequest(systems=("icd10cm", "icd10pcs"), prefixes=("S72.0", "0FT4", "S30.1")))
    codes = [c for s in sets for c in s.codes]
    assert any(c.notes for c in codes) and any(c.axes for c in codes) and any(c.seventh for c in codes)
    for code in codes:
        assert json.dumps(code.to_dict()) == json.dumps(dataclasses.asdict(code))
        assert type(code).from_dict(json.loads(json.dumps(code.to_dict()))) == code
