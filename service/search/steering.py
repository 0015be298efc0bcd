"""Steering: a candidate's score raised or lowered by whether its title agrees with the query's laterality,
encounter, root operation and named 7th character."""
from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from service.search.understanding import Understood

# Fused scores of candidates whose laterality or encounter contradicts the query are multiplied by
# CONFLICT; those that agree by AGREE. Only the top STEER_DEPTH candidates are looked at.
CONFLICT, AGREE, STEER_DEPTH = 0.5, 1.2, 60
_TITLE_SIDE = re.compile(r"\b(left|right|bilateral)\b", re.I)
_TITLE_ENCOUNTER = re.compile(r"\b(initial encounter|subsequent encounter|sequela)\b", re.I)
_ENCOUNTER_OF_TITLE = {"initial encounter": "initial", "subsequent encounter": "subsequent", "sequela": "sequela"}


def steer_factor(title: str, understood: "Understood", code: str = "") -> tuple[float, str]:
    """Score multiplier and reason for a candidate, given the query's laterality, encounter, root operation and
    named 7th character."""
    factor, reasons = 1.0, []
    if understood.seventh and code:
        key = code.replace(".", "")
        if len(key) == 7 and key[6] == understood.seventh:
            factor *= AGREE
            reasons.append(f"7th character {understood.seventh}")
        else:
            factor *= CONFLICT
    if understood.operations or understood.not_operations:
        if title.startswith(tuple(o + " " for o in understood.operations)):
            factor *= AGREE
            reasons.append("operation: " + title.split(" ", 1)[0])
        elif title.startswith(tuple(o + " " for o in understood.not_operations)):
            factor *= CONFLICT
    if understood.sides:
        sides = {s.lower() for s in _TITLE_SIDE.findall(title)}
        if sides & understood.sides:
            factor *= AGREE
            reasons.append("side: " + ", ".join(sorted(sides & understood.sides)))
        elif sides:
            factor *= CONFLICT
    if understood.encounter:
        said = {_ENCOUNTER_OF_TITLE[m.lower()] for m in _TITLE_ENCOUNTER.findall(title)}
        if understood.encounter in said:
            factor *= AGREE
            reasons.append(f"encounter: {understood.encounter}")
        elif said:
            factor *= CONFLICT
    return factor, "; ".join(reasons)
