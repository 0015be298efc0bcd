"""New Technology (section X) codes give way to a standard code that says the query as well, not otherwise."""
from types import SimpleNamespace

from service.search import newtech

CODES = [("icd10pcs", "XRRH0L8", "Replacement of Left Knee Joint with Synthetic Substitute, Lateral Meniscus, Open Approach, "
          "New Technology Group 8"),
         ("icd10pcs", "XRRH0M8", "Replacement of Left Knee Joint with Synthetic Substitute, Medial Meniscus, Open Approach, "
          "New Technology Group 8"),
         ("icd10cm", "M17.12", "Unilateral primary osteoarthritis, left knee"),
         ("icd10pcs", "0SRD0JZ", "Replacement of Left Knee Joint with Synthetic Substitute, Open Approach"),
         ("icd10pcs", "0SRD0J9", "Replacement of Left Knee Joint with Synthetic Substitute, Cemented, Open Approach")]


class Store:
    system_of = [c[0] for c in CODES]
    key_of = [c[1] for c in CODES]

    def rows(self, ids):
        return {i: SimpleNamespace(title=CODES[i][2]) for i in ids}


def slots(*concepts):
    return tuple((tuple(c.split()),) for c in concepts)


def test_new_technology_moves_below_a_standard_code_that_says_the_query_as_well():
    order = newtech.after_standard([0, 1, 2, 3, 4], Store(), slots("knee replacement", "left"))
    assert order == [2, 3, 0, 1, 4]  # the diagnosis stays where it was; both X codes follow 0SRD0JZ


def test_a_query_naming_what_only_the_new_technology_has_keeps_it_first():
    ranked = [0, 1, 2, 3, 4]
    # the lateral-meniscus code stays first; the medial one says no more of the query than 0SRD0JZ, so it follows it
    assert newtech.after_standard(ranked, Store(), slots("knee replacement", "lateral meniscus", "left")) == [0, 2, 3, 1, 4]
    assert newtech.after_standard(ranked, Store(), ()) == ranked
    assert newtech.after_standard([3, 0, 1], Store(), slots("knee replacement")) == [3, 0, 1]  # already below


def test_a_standard_code_below_a_page_of_new_technology_comes_up_to_the_first_page(monkeypatch):
    # a page of section X codes (DEPTH 2 here), the standard code just after it, within REACH
    monkeypatch.setattr(newtech, "DEPTH", 2)
    assert newtech.after_standard([0, 1, 3, 4], Store(), slots("knee replacement", "left")) == [3, 0, 1, 4]
    monkeypatch.setattr(newtech, "REACH", 2)  # out of reach: the order stays
    assert newtech.after_standard([0, 1, 3, 4], Store(), slots("knee replacement", "left")) == [0, 1, 3, 4]
