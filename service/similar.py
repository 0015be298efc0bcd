"""Similar Codes for one code: nearest neighbours of its document vector, each with a reason."""
from __future__ import annotations

from dataclasses import asdict, dataclass


class UnknownCode(LookupError):
    """The system/code pair is not in the index."""


@dataclass(frozen=True)
class Suggestion:
    system: str
    code: str
    title: str
    billable: bool
    score: float
    reasons: tuple[str, ...]
    variants: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return asdict(self)


def similar_codes(engine, system: str, code: str, limit: int = 10) -> list[Suggestion]:
    store = engine.store
    engine.check_system(system)
    engine.check_paging(limit)
    row_id = store.code_id(system, code)
    if row_id is None:
        raise UnknownCode(f"{code!r} is not a {system} code in this index")
    vector = store.vector(system, row_id)
    scores, positions = store.dense[system].search(vector.reshape(1, -1), limit + 1)
    ids = [int(store.ids[system][p]) for p in positions[0] if p >= 0]
    score_of = {int(store.ids[system][p]): float(s) for s, p in zip(scores[0], positions[0]) if p >= 0}
    rows = store.rows([i for i in ids if i != row_id])
    return [Suggestion(rows[i][1], rows[i][2], rows[i][3], bool(rows[i][4]), round(score_of[i], 4),
                       ("semantically close description",)) for i in ids if i in rows][:limit]


@dataclass(frozen=True)
class Crosswalk:
    system: str
    code: str
    title: str
    relation: str


def crosswalks(engine, system: str, code: str) -> list[Crosswalk]:
    """Codes of other systems/versions linked to this one by official maps (e.g. ICD-9-CM GEMs).

    Filled from the index's groupings once they are built; an index without them has no crosswalks.
    """
    return []
