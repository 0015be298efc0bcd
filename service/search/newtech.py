"""New Technology codes (ICD-10-PCS section X) give way to a standard code whose title says the query as well."""
from __future__ import annotations

from embeddings.index.store import IndexStore
from service.search import coverage

DEPTH = 10  # the first page
REACH = 40  # how far down a standard code that says the query as well is looked for


def is_new_technology(store: IndexStore, i: int) -> bool:
    return str(store.system_of[i]) == "icd10pcs" and str(store.key_of[i]).startswith("X")


def after_standard(ranked: list[int], store: IndexStore, slots: coverage.Slots) -> list[int]:
    """Section X codes report one new device or drug. Those in the top DEPTH move just below the first standard
    ICD-10-PCS code in the top REACH whose title satisfies as many of the query's slots, that is, when the query
    names nothing only the new technology has ('knee replacement left' -> 0SRD0JZ before XRRH0L8 '..., Lateral
    Meniscus, ...'; 'lower back fusion' -> 0SG0 before a page of custom-made interbody device codes)."""
    if not slots or not any(is_new_technology(store, i) for i in ranked[:DEPTH]):
        return ranked
    head = ranked[:REACH]
    rows = store.rows(head)
    held = {i: coverage.shares(rows[i].title, slots)[0] if i in rows else 0.0 for i in head}
    standard = [j for j in head if str(store.system_of[j]) == "icd10pcs" and not is_new_technology(store, j)
                and held[j] > 0]
    if not standard:
        return ranked
    target = standard[0]
    before = head[:head.index(target)]
    moved = [i for i in before if is_new_technology(store, i) and held[i] <= held[target]]
    if not moved:
        return ranked
    kept = [i for i in before if i not in moved]
    return kept + [target] + moved + head[head.index(target) + 1:] + ranked[REACH:]
