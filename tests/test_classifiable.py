"""'Conditions classifiable to C15-C26': the category titles a note points at become searchable words of the code."""
from embeddings.classifiable import MAX_CATEGORIES, Classifiable, covered_titles
from embeddings.documents import build_documents
from embeddings.records import Code, Note


def _code(code: str, title: str, *notes: str, kind: str = "category") -> Code:
    return Code("icd10cm", code, title, True, kind, notes=tuple(Note("inclusion", n) for n in notes))


CODES = [_code("C15", "Malignant neoplasm of esophagus"), _code("C18", "Malignant neoplasm of colon"),
         _code("C26", "Malignant neoplasm of other and ill-defined digestive organs"),
         _code("C34", "Malignant neoplasm of bronchus and lung"),
         _code("H54.7", "Unspecified visual loss", kind="code"),
         _code("Z80.0", "Family history of malignant neoplasm of digestive organs", "Conditions classifiable to C15-C26",
               kind="code"),
         _code("Z82.1", "Family history of blindness and visual loss", "Conditions classifiable to H54.7", kind="code")]


def test_a_range_names_each_category_in_it_and_a_single_code_its_own_title():
    reader = Classifiable(CODES)
    assert reader.covered("Conditions classifiable to C15-C26") == [
        "Malignant neoplasm of esophagus", "Malignant neoplasm of colon",
        "Malignant neoplasm of other and ill-defined digestive organs"]
    assert reader.covered("Conditions classifiable to H54.7") == ["Unspecified visual loss"]
    assert reader.covered("any condition classifiable to C18 and C34") == ["Malignant neoplasm of colon",
                                                                            "Malignant neoplasm of bronchus and lung"]
    assert reader.covered("Hereditary colon cancer") == []


def test_a_range_wider_than_the_cap_names_nothing():
    many = [_code(f"K{n:02d}", f"Disease number {n}") for n in range(MAX_CATEGORIES + 1)]
    assert Classifiable(many).covered(f"Conditions classifiable to K00-K{MAX_CATEGORIES:02d}") == []
    assert len(Classifiable(many).covered(f"Conditions classifiable to K00-K{MAX_CATEGORIES - 1:02d}")) == MAX_CATEGORIES


def test_the_titles_are_searchable_context_of_the_code_but_not_of_a_held_out_note():
    titles = {(c.system, c.code): c.title for c in CODES}
    docs = {d.code: d for d in build_documents(CODES, titles)}
    assert "Malignant neoplasm of colon" in docs["Z80.0"].context
    assert "colon" not in docs["Z80.0"].embed_text  # searchable words only: the text to embed is unchanged
    held = {("icd10cm", "Z80.0"): frozenset({"Conditions classifiable to C15-C26"})}
    assert ("icd10cm", "Z80.0") not in covered_titles(CODES, held)
    assert "colon" not in {d.code: d for d in build_documents(CODES, titles, held)}["Z80.0"].context
