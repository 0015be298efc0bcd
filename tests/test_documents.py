"""Document texts: titles, hierarchy, synonyms, PCS definitions, and held-out terms."""
from pathlib import Path

from embeddings.codesets import icd10cm, icd10pcs
from embeddings.documents import build_documents, procedure_sentence

FIX = Path(__file__).parent / "fixtures"


def _docs(codeset, held_out=None):
    titles = {(c.system, c.code): c.title for c in codeset.codes}
    return {d.code: d for d in build_documents(codeset.codes, titles, held_out)}


def test_cm_document_has_title_hierarchy_and_inclusion_terms():
    doc = _docs(icd10cm.load(FIX / "tabular-mini.xml"))["Q10.0"]
    assert doc.embed_text.startswith("Mock disorder of the left widget.")
    assert "Sinistral widget malady" in doc.embed_text and "Sinistral widget malady" in doc.terms
    assert "Mock disorder of the widget" in doc.context and "Invented test chapter" in doc.context


def test_held_out_terms_are_removed_from_both_texts():
    doc = _docs(icd10cm.load(FIX / "tabular-mini.xml"),
                {("icd10cm", "Q10.0"): frozenset({"Sinistral widget malady"})})["Q10.0"]
    assert "Sinistral" not in doc.embed_text and "Sinistral" not in doc.terms


def test_pcs_document_explains_axes_in_plain_words():
    codeset = icd10pcs.load(FIX / "pcs-order-mini.txt")
    doc = _docs(codeset)["0FT44ZZ"]
    assert "Cutting out or off, without replacement, all of a body part" in doc.embed_text
    assert "laparoscopic" in doc.embed_text and "Cholecystectomy" in doc.terms
    code = next(c for c in codeset.codes if c.code == "0FT44ZZ")
    sentence = procedure_sentence(code)
    assert sentence.startswith("Resection of the gallbladder (cutting out or off")
    assert "percutaneous endoscopic approach" in sentence


def test_claim_text_is_indexed_with_slash_forms_spelt_out():
    import dataclasses
    codeset = icd10cm.load(FIX / "tabular-mini.xml")
    code = dataclasses.replace(codeset.codes[0], short="Mock disord w/o widget, w/ gadget")
    doc = build_documents([code], {(code.system, code.code): code.title})[0]
    # the FTS tokenizer would read 'w/o' as the words 'w' and 'o', and 'w' stands for 'with' in claim text
    assert doc.claim.split() == ["Mock", "disord", "without", "widget,", "with", "gadget"]
    held = build_documents([code], {(code.system, code.code): code.title},
                           {(code.system, code.code): frozenset({code.short})})[0]
    assert held.claim == ""  # a held-out short description is matched as written, before spelling out


def test_condition_words_begin_diagnosis_titles_and_no_procedure_text_uses_them():
    from embeddings.documents import Document
    from embeddings.index.writer import condition_words

    def doc(system, title, terms=""):
        return Document(system, "X", "", title, terms, "")
    docs = [doc("icd10cm", "Obstruction of bile duct"), doc("icd10cm", "Obstruction of airway"),
            doc("icd10cm", "Deficiency of vitamin K"), doc("icd10cm", "Bypass graft stenosis"),
            doc("icd10pcs", "Bypass Stomach to Jejunum, Open Approach"), doc("icd10cm", "Stenosis of trachea"),
            doc("icd10pcs", "Dilation of Trachea", "tracheal stenosis repair")]
    assert condition_words(docs) == {"obstruction": 2, "deficiency": 1}
