"""Similar Codes: FAISS neighbours blended with hierarchy, CCS/CCSR groups and GEMs, near-duplicates folded, with reasons."""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from embeddings.codesets import icd9
from embeddings.groupings import CM, PCS
from embeddings.records import code_key
from service.errors import QueryError, no_such_code
from service.similar import relations as rel
from service.similar.data import SimilarData, similar_data

ICD10_OF = {icd9.DX: CM, icd9.SG: PCS}  # the ICD-10 system each ICD-9-CM part maps to through the GEMs
NEIGHBOURS = 100       # FAISS neighbours taken as candidates (a code's own 7th-character family can fill 50)
POOL = 300             # most candidates one structural source adds, nearest in code order
SHORTLIST = 4          # candidates per requested suggestion that reach the diversity pass
REPEAT_PENALTY = 0.02  # per suggestion already chosen under the same parent
MAX_VARIANT_CODES = 60
SIDES = ("right", "left", "bilateral", "unspecified side")


@dataclass(frozen=True)
class Suggestion:
    system: str
    code: str
    title: str
    billable: bool
    score: float
    reasons: tuple[str, ...]
    variants: tuple[str, ...] = ()       # plain words for the folded near-duplicates: "left", "sequela"
    variant_codes: tuple[str, ...] = ()  # the folded codes themselves
    also: str = ""                       # one line for display: "also: left / bilateral; subsequent encounter"

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Crosswalk:
    system: str
    code: str
    title: str
    relation: str
    approximate: bool = False
    direction: str = ""  # "ICD-9-CM to ICD-10", "ICD-10 to ICD-9-CM" or "both"

    def to_dict(self) -> dict:
        return asdict(self)


def similar_codes(engine, system: str, code: str, limit: int = 10) -> list[Suggestion]:
    system = engine.system_name(system)
    store, q = _resolve(engine, system, code)
    engine.check_paging(limit)
    return blend(similar_data(store), store, q, limit)


def crosswalks(engine, system: str, code: str) -> list[Crosswalk]:
    """ICD-9-CM codes linked to this code by the CMS General Equivalence Mappings, exact links first; for an
    ICD-9-CM code, the ICD-10 codes linked to it."""
    system = engine.system_name(system)
    if system in ICD10_OF:
        return _icd10_crosswalks(engine, system, code)
    store, _row = _resolve(engine, system, code)
    gems = store.gems(system, code_key(code)) if similar_data(store).groupings is not None else []
    links = _merged((gem.icd9, gem.direction, gem) for gem in gems)
    titles = {gem.icd9: gem.title for gem in gems}
    target = icd9.SG if system == PCS else icd9.DX
    noun = "ICD-9-CM procedure" if system == PCS else "ICD-9-CM"
    return _ordered([Crosswalk(target, other, titles[other], *_wording(noun, link)) for other, link in links.items()])


def _icd10_crosswalks(engine, system: str, code: str) -> list[Crosswalk]:
    """The ICD-10 side of the GEM rows that name this ICD-9-CM code, in both directions, exact links first."""
    store, _row = _resolve(engine, system, code)
    target = ICD10_OF[system]
    if target not in store.systems:
        return []
    record = store.record(system, code)
    links = _merged((key, direction, gem) for direction in ("9to10", "10to9")
                    for key, gem in store.gems_of_icd9(target, [record.code], direction))
    found = {code_key(c): r for c, r in store.records(target, list(links)).items()}
    noun = "ICD-10-PCS" if target == PCS else "ICD-10-CM"
    return _ordered([Crosswalk(target, found[key].code, found[key].title, *_wording(noun, link))
                     for key, link in links.items() if key in found])


@dataclass
class _Link:
    """What the GEM rows between two codes say together: the directions they run, and whether any is exact."""
    directions: set[str]
    exact: bool = False
    combination: bool = False


def _merged(rows) -> dict[str, _Link]:
    """(other code, direction, GEM row) triples merged per other code, in first-seen order."""
    links: dict[str, _Link] = {}
    for other, direction, gem in rows:
        link = links.setdefault(other, _Link(set()))
        link.directions.add(direction)
        link.exact |= not gem.approximate
        link.combination |= gem.combination
    return links


def _wording(noun: str, link: _Link) -> tuple[str, bool, str]:
    """(relation, approximate, direction) of a crosswalk, in the words pages and the API show."""
    relation = f"{noun} equivalent (GEM)" if link.exact else f"approximate {noun} equivalent (GEM)"
    if link.combination:
        relation = f"{noun} code, part of a combination mapping (GEM)"
    direction = "both" if len(link.directions) == 2 else \
        "ICD-9-CM to ICD-10" if "9to10" in link.directions else "ICD-10 to ICD-9-CM"
    return relation, not link.exact, direction


def _ordered(found: list[Crosswalk]) -> list[Crosswalk]:
    """Exact links first, combination mappings after the rest, then by code."""
    return sorted(found, key=lambda c: (c.approximate, "combination" in c.relation, c.code))


def _resolve(engine, system: str, code: str):
    if engine.check_system(system) is None:
        raise QueryError("name one code system, for example icd10cm or icd10pcs")
    row = engine.store.code_id(system, code)
    if row is None:
        raise no_such_code(system, code)
    return engine.store, row


# -- candidates ------------------------------------------------------------------------------------
def neighbours(data: SimilarData, store, q: int, k: int) -> np.ndarray:
    """The k nearest rows to the code's own document vector, itself left out (plain FAISS neighbours)."""
    system = data.system[q]
    _scores, positions = store.dense[system].search(data.vector(q)[None, :], k + 1)
    rows = store.ids[system][positions[0][positions[0] >= 0]]
    return rows[rows != q][:k]


def candidates(data: SimilarData, store, q: int) -> tuple[np.ndarray, np.ndarray]:
    """Family heads from every source (neighbours, hierarchy, groups, GEMs) and which came from FAISS."""
    near = data.tables.head[neighbours(data, store, q, NEIGHBOURS)]
    pools = [near, _closest(data, q, data.tables.children.members(q)),
             _closest(data, q, data.tables.anchor.members(data.tables.anchor.of[q])),
             _closest(data, q, data.tables.category.members(data.tables.category.of[q]))]
    if data.tables.parent[q] >= 0:
        pools.append(_closest(data, q, np.array([data.tables.parent[q]])))
    for scheme in ("ccs", "ccsr", "gem", "ccs_level2"):
        groups = data.tables.schemes[scheme]
        pools += [_closest(data, q, groups.by_group.members(g)) for g in groups.of(q)]
    rows = np.unique(np.concatenate(pools))
    keep = data.tables.head[rows] != data.tables.head[q]
    if data.billable[q]:
        keep &= data.billable[rows]
    rows = rows[keep]
    return rows, np.isin(rows, near)


def _closest(data: SimilarData, q: int, rows: np.ndarray) -> np.ndarray:
    rows = rows[data.tables.head[rows] == rows]
    if data.billable[q]:
        rows = rows[data.billable[rows]]
    if len(rows) > POOL:
        rows = rows[np.argsort(np.abs(rows - q), kind="stable")[:POOL]]
    return rows


# -- ranking ---------------------------------------------------------------------------------------
def blend(data: SimilarData, store, q: int, limit: int) -> list[Suggestion]:
    rows, semantic = candidates(data, store, q)
    if not store.inactive[q]:  # a code valid today is never offered a deleted one as similar
        keep = ~store.inactive[rows]
        rows, semantic = rows[keep], semantic[keep]
    first = data.cosine(q, rows) + rel.bonus(rel.features(data, q, rows))
    order = np.argsort(-first, kind="stable")[:SHORTLIST * limit]
    heads = [int(h) for h in rows[order]]
    is_semantic = {int(h) for h in rows[semantic]}
    own = data.tables.family.members(data.tables.head[q])
    own = own[own != q]
    reps = [_representative(data, q, data.tables.family.members(h) if data.tables.family.of[h] >= 0 else np.array([h]))
            for h in heads]
    if len(own):
        reps.append(_representative(data, q, own))
        heads.append(int(data.tables.head[q]))
    flags = rel.features(data, q, np.array(reps, dtype=np.int64))
    score = data.cosine(q, np.array(reps, dtype=np.int64)) + rel.bonus(flags)
    chosen, ranked = _diverse(data, reps, score, limit)
    shown = [reps[i] for i in chosen]
    info = store.rows([int(r) for r in shown])
    records = _pcs_records(data, store, q, shown)
    out = []
    for i, final in zip(chosen, ranked):
        row, head = reps[i], heads[i]
        members = own if head == data.tables.head[q] else data.tables.family.members(head)
        row_flags = {name: bool(values[i]) for name, values in flags.items()}
        reasons = rel.describe(data, q, row, row_flags, head in is_semantic, records)
        variants, codes, also = _variants(data, row, members[members != row] if len(members) else members)
        r = info[row]
        out.append(Suggestion(r.system, r.code, r.title, r.billable, round(final, 4), reasons, variants, codes, also))
    return out


def _representative(data: SimilarData, q: int, members: np.ndarray) -> int:
    """The member most like the query: same 7th character / qualifier, then same side, then the other side."""
    if len(members) == 1:
        return int(members[0])
    t = data.tables
    sides = t.side[members]
    match = 4 * (t.detail[members] == t.detail[q]) + 2 * (sides == t.side[q]) + np.isin(sides, ("left", "right"))
    return int(members[int(np.argmax(match))])


def _diverse(data: SimilarData, reps: list[int], score: np.ndarray, limit: int) -> tuple[list[int], list[float]]:
    """Greedy pick by score, each further pick under an already-used parent paying a small penalty."""
    used: dict[int, int] = {}
    left = list(range(len(reps)))
    chosen, ranked = [], []

    def adjusted(i: int) -> float:
        return float(score[i]) - REPEAT_PENALTY * used.get(int(data.tables.anchor.of[reps[i]]), 0)
    while left and len(chosen) < limit:
        best = max(left, key=lambda i: (adjusted(i), -i))
        chosen.append(best)
        ranked.append(adjusted(best))
        left.remove(best)
        anchor = int(data.tables.anchor.of[reps[best]])
        used[anchor] = used.get(anchor, 0) + 1
    return chosen, ranked


def _variants(data: SimilarData, row: int, others: np.ndarray) -> tuple[tuple[str, ...], tuple[str, ...], str]:
    if not len(others):
        return (), (), ""
    sides = tuple(sorted({s for s in data.tables.side[others] if s and s != data.tables.side[row]}, key=_side_order))
    mine = rel.short_detail(str(data.tables.detail[row]))
    details = tuple(dict.fromkeys(rel.short_detail(d) for d in data.tables.detail[others]
                                  if d and rel.short_detail(d) != mine))
    if not sides and not details:  # e.g. only open/closed fracture differ: the short words would hide that
        details = tuple(dict.fromkeys(str(d).lower() for d in data.tables.detail[others] if d and d != data.tables.detail[row]))
    parts = [" / ".join(sides), ", ".join(details)]
    also = "also: " + "; ".join(p for p in parts if p) if any(parts) else ""
    return sides + details, tuple(str(c) for c in data.tables.code[others[:MAX_VARIANT_CODES]]), also


def _side_order(side: str) -> tuple[int, str]:
    return (SIDES.index(side) if side in SIDES else len(SIDES), side)


def _pcs_records(data: SimilarData, store, q: int, rows: list[int]) -> dict:
    if data.system[q] != PCS:
        return {}
    wanted = [int(q)] + [int(r) for r in rows]
    by_code = store.records(PCS, [str(data.tables.code[r]) for r in wanted])
    return {r: by_code.get(str(data.tables.code[r])) for r in wanted}
