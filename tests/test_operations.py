"""PCS root-operation semantics of everyday words, and roll-down of categories to codable codes."""
from types import SimpleNamespace

import numpy as np
import pytest

from service.search import operations as ops
from service.search import query as q
from service.search import steering, terms
from service.search import understanding as qu
from service.search.fusion import Fusion
from service.search.rolldown import roll_down, says_default

REMOVALS = ["Removal of Drainage Device from Gallbladder, Open Approach",
            "Removal of Spacer from Right Knee Joint, Percutaneous Approach",
            "Removal of Intraluminal Device from Gallbladder, Open Approach",
            "Removal of Splint on Right Upper Arm"]


@pytest.fixture(scope="module")
def operations():
    return ops.Operations(ops.load_rules(), ops.device_words(REMOVALS))


def test_device_words_come_from_removal_titles_without_body_part_words():
    words = ops.device_words(REMOVALS)
    assert {"drainage", "device", "spacer", "intraluminal", "splint"} <= words
    assert not {"gallbladder", "knee", "joint", "right", "open", "arm"} & words


def test_removal_of_a_body_part_is_resection_or_excision_not_device_removal(operations):
    reading = operations.read(["gallbladder", "removal"])
    assert reading.operations == ("Resection", "Excision") and "Removal" in reading.not_operations
    device = operations.read(["removal", "of", "drainage", "device", "gallbladder"])
    assert device.operations == ("Removal",) and "Resection" in device.not_operations
    assert operations.read(["kidney", "stone", "removal"]).operations == ("Extirpation",)
    assert operations.read(["knee", "scope"]).operations == ("Inspection",)
    assert operations.read(["heart", "failure"]) is None


def test_a_stent_put_in_is_a_dilation_with_a_device_and_a_stent_taken_out_a_removal(operations):
    # PCS codes a stent that holds a tubular part open as Dilation with Intraluminal Device.
    assert operations.read(["ureteral", "stent", "placement"]).operations == ("Dilation", "Insertion")
    spelt = {"stent": "intraluminal device"}  # what the term table says of the word
    assert operations.read(["ureter", "stent", "placement"], spelt).operations == ("Dilation", "Insertion")
    assert operations.read(["stent", "removal"]).operations == ("Removal",)
    assert operations.read(["placement", "of", "drainage", "device"]).operations == ("Insertion",)


def test_a_device_put_in_by_the_table_terms_own_operation_is_that_operation():
    operations = ops.Operations(ops.load_rules(), ops.device_words(REMOVALS), frozenset({"drain", "inser", "dilat"}))
    reading = operations.read(["foley", "catheter", "placement"], {"foley": "drainage bladder drainage device"})
    assert reading.operations == ("Insertion",)
    assert ops.with_device(reading, ["drainage bladder drainage device"], operations).operations == ("Drainage",)
    # A table term naming no device, or naming Insertion itself, leaves the reading as it is.
    assert ops.with_device(reading, ["drainage bladder"], operations) == reading
    assert ops.with_device(reading, ["insertion pacemaker chest"], operations) == reading


def test_a_table_term_covering_the_operation_word_says_which_root_operation_it_is():
    operations = ops.Operations(ops.load_rules(), ops.device_words(REMOVALS), frozenset({"extra", "resec"}))
    reading = operations.read(["wisdom", "teeth", "removal"])
    assert reading.operations == ("Resection", "Excision")
    steer = ops.by_table(reading, ["extraction tooth"], operations)
    assert steer.start == -1 and steer.operations == ("Extraction",)  # steers only: the term is searched
    assert ops.by_table(reading, ["tooth"], operations).operations == ("Resection", "Excision")


def test_a_scope_or_camera_yields_to_the_operation_done_through_it(operations):
    # Named alone, a scope or camera is a look inside; with a doing word it is the way in, and the word the operation.
    assert operations.read(["camera", "into", "the", "bladder"]).operations == ("Inspection",)
    reading = operations.read(["scope", "to", "remove", "colon", "polyp"])
    assert reading.operations == ("Resection", "Excision") and reading.start == 2
    assert operations.read(["camera", "removal", "of", "gallbladder"]).operations == ("Resection", "Excision")
    assert operations.read(["camera", "to", "take", "out", "drainage", "device"]).operations == ("Removal",)


def test_a_transplant_is_a_transplantation_unless_an_ectomy_names_the_operation(operations):
    assert operations.read(["kidney", "transplant"]).operations == ("Transplantation",)
    assert operations.read(["nephrectomy", "transplant"]) is None
    assert operations.read(["nephrectomy", "with", "stent", "removal"]) is None


def test_a_query_in_pcs_terms_keeps_its_own_root_operation():
    # Claim and title text name the root operation first; an everyday word later in it is part of a device
    # ('Infusion Device'), not a second operation.
    roots = ops.root_words(["Insertion", "Revision", "Removal", "Resection", "Plain"])
    operations = ops.Operations(ops.load_rules(), ops.device_words(REMOVALS), roots)
    for words in (["insertion", "of", "infusion", "device", "into", "brain"], ["revise", "infusion", "dev", "in", "brain"]):
        assert operations.read(words) is None, words
    assert operations.read(["brain", "infusion"]).operations == ("Introduction",)  # everyday words still read
    # Claim text writes the device in abbreviations: spelt out, they tell a device from a body part.
    words = ["removal", "of", "drain", "dev", "from", "gallbladder"]
    assert operations.read(words).operations == ("Resection", "Excision")
    assert operations.read(words, {"drain": "drainage", "dev": "device"}).operations == ("Removal",)


def test_root_operations_come_from_table_titles_so_a_body_part_first_is_everyday_wording(engine):
    # A few code titles begin with a body part ('Breast Milk Collection'); the table titles name root operations.
    roots = ops.root_words(engine.store.first_title_words("icd10pcs", "table"))
    assert {"excis", "resec", "assis", "perfo"} <= roots
    assert "breas" not in roots
    operations = ops.Operations(ops.load_rules(), ops.device_words(REMOVALS), roots)
    assert operations.read(["breast", "removal"]).operations == ("Resection", "Excision")


def test_every_rule_names_a_known_object_and_a_root_operation():
    for rules in ops.load_rules().values():
        for rule in rules:
            assert rule.object in ops.OBJECTS and all(o[:1].isupper() for o in rule.operations)


def test_understanding_searches_the_operation_and_steers_away_from_device_removal(operations):
    understanding = qu.Understanding({}, None, operations=operations)
    u = understanding.understand("gallbladder removal", None, frozenset(qu.FEATURES))
    assert (("removal",), ("resection",), ("excision",)) in u.slots and u.intent == "icd10pcs"
    assert "resection" in u.dense_text
    agree, why = steering.steer_factor("Resection of Gallbladder, Open Approach", u)
    conflict, _ = steering.steer_factor("Removal of Drainage Device from Gallbladder, Open Approach", u)
    assert agree > 1 > conflict and why == "operation: Resection"
    # A diagnosis query ('complication of ...') or the feature switched off leaves the words alone.
    assert not understanding.understand("complication of gallbladder removal", None, frozenset(qu.FEATURES)).operations
    off = understanding.understand("gallbladder removal", None, frozenset(qu.FEATURES) - {"operations"})
    assert (("removal",),) in off.slots and not off.operations


def _store(keys, billable):
    return SimpleNamespace(key_of=np.array(keys, dtype=object), billable=np.array(billable),
                           system_of=np.array(["icd10cm"] * len(keys), dtype=object))


def _stems(text: str) -> frozenset[str]:
    return frozenset(q.stem(w) for w in text.split())


def test_roll_down_brings_the_best_codable_descendant_next_to_its_category():
    store = _store(["T41", "T411X1A", "T411X2A", "K922"], [False, True, True, True])
    fusion = Fusion(60, scores={0: 1.0, 3: 0.9, 2: 0.5, 1: 0.4}, reasons={i: [] for i in range(4)})
    ranked = fusion.ranked()
    assert roll_down(ranked, fusion, store, specific=False) == [0, 2, 3, 1]
    assert roll_down(ranked, fusion, store, specific=True) == [2, 0, 3, 1]
    assert "codable code under T41" in fusion.reasons[2]


def test_roll_down_of_a_short_query_takes_the_codable_code_without_an_unsaid_complication():
    store = _store(["K859", "K8592", "K8590", "K8591"], [False, True, True, True])
    titles = ["Acute pancreatitis, unspecified", "Acute pancreatitis with infected necrosis, unspecified",
              "Acute pancreatitis without necrosis or infection, unspecified",
              "Acute pancreatitis with uninfected necrosis, unspecified"]
    store.rows = lambda ids: {i: SimpleNamespace(title=titles[i]) for i in ids}
    scores = {0: 1.0, 1: 0.6, 2: 0.5, 3: 0.4}
    said = _stems("pancreatitis")
    fusion = Fusion(60, scores=dict(scores), reasons={i: [] for i in range(4)})
    assert roll_down(fusion.ranked(), fusion, store, specific=False, said=said) == [0, 2, 1, 3]
    fusion = Fusion(60, scores=dict(scores), reasons={i: [] for i in range(4)})
    assert roll_down(fusion.ranked(), fusion, store, specific=False, said=said | _stems("infection necrosis"))[:2] == [0, 1]


def test_roll_down_of_a_short_query_prefers_the_descendant_that_only_says_its_heading_unspecified():
    store = _store(["F20", "F200", "F209", "H919", "H9193", "H9190"], [False, True, True, False, True, True])
    titles = ["Schizophrenia", "Paranoid schizophrenia", "Schizophrenia, unspecified", "Unspecified hearing loss",
              "Unspecified hearing loss, bilateral", "Unspecified hearing loss, unspecified ear"]
    store.rows = lambda ids: {i: SimpleNamespace(title=titles[i]) for i in ids}
    fusion = Fusion(60, scores={0: 1.0, 1: 0.9, 2: 0.5, 3: 0.45, 4: 0.4, 5: 0.3}, reasons={i: [] for i in range(6)})
    said = _stems("schizophrenia hearing loss")
    assert roll_down(fusion.ranked(), fusion, store, specific=False, said=said) == [0, 2, 1, 3, 5, 4]
    assert says_default("Gastric ulcer", "Gastric ulcer, unspecified as acute or chronic, without hemorrhage")
    assert not says_default("Fracture of lower leg", "Unspecified fracture of right lower leg")


def test_a_site_left_unspecified_mid_title_is_the_default_and_another_site_is_not():
    heading = "Pressure ulcer"
    assert says_default(heading, "Pressure ulcer of unspecified site, unspecified stage")
    assert not says_default(heading, "Pressure ulcer of other site, unspecified stage")
    assert not says_default(heading, "Pressure ulcer of sacral region, unspecified stage")
    assert not says_default("Fracture of femur", "Fracture of unspecified part of neck of right femur")  # a side
    # 'without' leaves a complication out wherever it stands in a part, not only at its start
    assert says_default("Zoster [herpes zoster]", "Zoster without complications")
    assert not says_default("Zoster [herpes zoster]", "Disseminated zoster")
    pancreatitis = "Acute pancreatitis without necrosis or infection"
    assert says_default("Acute pancreatitis", pancreatitis)
    assert not says_default("Acute pancreatitis", pancreatitis, _stems("necrosis"))  # the query says necrosis


def test_roll_down_names_the_heading_as_it_is_written():
    store = _store(["S60572", "S60572A"], [False, True])
    fusion = Fusion(60, scores={0: 1.0, 1: 0.5}, reasons={0: [], 1: []})
    roll_down(fusion.ranked(), fusion, store, specific=False)
    assert fusion.reasons[1] == ["codable code under S60.572"]


def test_roll_down_leaves_a_category_without_descendant_candidates_alone():
    store = _store(["T41", "K922"], [False, True])
    fusion = Fusion(60, scores={0: 1.0, 1: 0.5}, reasons={0: [], 1: []})
    assert roll_down(fusion.ranked(), fusion, store, specific=True) == [0, 1]


def test_coverage_prefers_the_title_that_says_what_the_query_says_and_no_more():
    from service.search.coverage import coverage
    u = qu.Understanding({}, None, {"subs": "subsequent"}).understand(
        "Sprain of interphalangeal joint of left thumb, subs", None, frozenset(qu.FEATURES))
    exact = coverage("Sprain of interphalangeal joint of left thumb, subsequent encounter", u.slots)
    sibling = coverage("Subluxation of interphalangeal joint of left thumb, subsequent encounter", u.slots)
    broader = coverage("Sprain of joints and ligaments of other parts of the hand, left thumb, subsequent encounter",
                       u.slots)
    assert exact > sibling > 0 and exact > broader > 0
    assert coverage("Cholera", u.slots) == 0.0


def test_a_named_seventh_character_steers_to_codes_ending_in_it():
    u = qu.Understanding({}, None).understand("Disp fx of head of r rad, 7thN", None, frozenset(qu.FEATURES))
    assert u.seventh == "N" and all("7thn" not in alt for slot in u.slots for alt in slot)
    agree, why = steering.steer_factor("Displaced fracture ...", u, "S52.121N")
    conflict, _ = steering.steer_factor("Displaced fracture ...", u, "S52.121M")
    assert agree > 1 > conflict and why == "7th character N"


def test_every_form_of_a_table_verb_reads_the_same(operations):
    for said in (["gallbladder", "taken", "out"], ["gallbladder", "took", "out"], ["removed", "gallbladder"],
                 ["removing", "the", "gallbladder"]):
        assert operations.read(said).operations == ("Resection", "Excision"), said
    assert operations.read(["tooth", "pulled"]).operations == ("Extraction",)
    assert operations.read(["exploratory", "laparotomy"]).operations == ("Inspection",)
    assert ops.word_form("stitches") == ops.word_form("stitching") == "stitch"
    assert ops.word_form("glass") == "glass" and ops.word_form("bladder") == "bladder"


def test_everyday_words_for_clearing_breaking_up_placing_and_looking(operations):
    assert operations.read(["cleaning", "out", "a", "blocked", "neck", "artery"]).operations == ("Extirpation",)
    assert operations.read(["evacuation", "of", "subdural", "hematoma"]).operations == ("Extirpation", "Drainage")
    assert operations.read(["shock", "wave", "treatment", "for", "kidney", "stones"]).operations == ("Fragmentation",)
    assert operations.read(["pacemaker", "implantation"]).operations == ("Insertion",)
    assert operations.read(["camera", "down", "the", "throat", "to", "look", "at", "the", "stomach"]).operations \
        == ("Inspection",)


def test_a_scope_named_with_something_done_through_it_rules_out_inspection(operations):
    # 'colonoscopy with biopsy': the table spells colonoscopy 'inspection ... endoscopic' and biopsy 'excision'.
    assert ops.not_doing(None, {"colonoscopy", "inspection", "excision", "diagnostic"}) == ("Inspection",)
    assert ops.not_doing(None, {"colonoscopy", "inspection", "endoscopic"}) == ()  # the look inside is the procedure
    assert ops.not_doing(None, {"colonoscopy", "inspection", "excision"}, features=()) == ()
    reading = operations.read(["scope", "to", "remove", "colon", "polyp"])
    assert ops.not_doing(reading, {"scope", "inspection", "remove"}) == reading.not_operations + ("Inspection",)


def test_a_condition_named_by_a_table_term_over_the_operation_word_is_no_procedure(operations):
    table = {terms.table_key(["pulled", "muscle"]): (terms.Entry("pulled muscle", "strain of muscle", "icd10cm"),)}
    understanding = qu.Understanding(table, None, operations=operations)
    u = understanding.understand("pulled muscle", None, frozenset(qu.FEATURES))
    # 'pulled muscle' is a strain: no Extraction to steer to, and the table's words are searched.
    assert not u.operations and not u.not_operations and any("strain" in a for s in u.slots for a in s)
    # The same word with a tooth is still the Extraction.
    assert "Extraction" in understanding.understand("tooth pulled", None, frozenset(qu.FEATURES)).operations
