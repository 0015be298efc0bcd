"""Headings folded into their codes: a category, subcategory or PCS table shown with the codable code under it."""
from __future__ import annotations

from embeddings.index.store import IndexStore

# Headings among the first this many results are folded; deeper ones keep their own rows.
DEPTH = 40
# A heading's codes are looked for this far down: folding moves rows up, so codes from below DEPTH can reach the page.
REACH = 3 * DEPTH


def fold(ranked: list[int], store: IndexStore, folded: dict[int, list[int]]) -> list[int]:
    """A heading among the first DEPTH results with a codable descendant among the first REACH is listed with that
    code, which takes the better of the two places: a coder submits the code, and the heading stays one click away
    on its row ('F20 Schizophrenia' with F20.9). A heading goes to its best-ranked code that carries none yet, else to its
    best-ranked code (nested headings: S72.0 and S72.00 with S72.001A). `folded` (holder -> codes listed with it,
    see families.fold) is updated in place."""
    head = ranked[:DEPTH]
    order = list(ranked[:REACH])
    carried: set[int] = set()
    for heading in head:
        if store.billable[heading] or store.inactive[heading] or heading not in order:  # a deleted code heads nothing
            continue
        system, key = store.system_of[heading], str(store.key_of[heading])
        under = [i for i in order if store.billable[i] and store.system_of[i] == system
                 and str(store.key_of[i]).startswith(key) and str(store.key_of[i]) != key]
        code = next((i for i in under if i not in carried), under[0] if under else None)
        if code is None:
            continue
        at = min(order.index(heading), order.index(code))
        order.remove(heading)
        order.remove(code)
        order.insert(at, code)
        carried.add(code)
        folded[code] = sorted([heading, *folded.pop(heading, []), *folded.get(code, [])],
                              key=lambda j: str(store.key_of[j]))  # the tabular's order: headings first
    return order + ranked[REACH:]
