"""7th-character families: S61.452A stands in the results for S61.452D, S61.452S and their stem S61.452."""
from __future__ import annotations

import os
from dataclasses import dataclass

from embeddings.index.rows import CodeRow
from embeddings.index.store import IndexStore
from service.search import understanding as qu
from service.search.fusion import Fusion
from service.search.steering import UNSTATED, title_encounters

FAMILY_SYSTEM = "icd10cm"  # only ICD-10-CM has 7th characters (encounter, healing, sequela)
HEADING = "heading (not codable)"


@dataclass(frozen=True)
class Variant:
    """A sibling listed with the hit that holds its family's place."""
    code: str
    title: str
    label: str  # what sets it apart from that hit: 'subsequent encounter', 'sequela', 'fetus 2', HEADING


def variant(holder: CodeRow, row: CodeRow) -> Variant:
    """The sibling with the part of its title that differs from the holder's, cut at a comma so that a phrase is
    whole ('initial encounter for open fracture type I or II', not 'open fracture type I or II')."""
    if not row.billable:
        return Variant(row.code, row.title, HEADING)
    if row.title.startswith(holder.title):
        tail = row.title[len(holder.title):]
    else:
        cut = os.path.commonprefix([holder.title, row.title]).rfind(", ")
        tail = row.title[cut + 2:] if cut >= 0 else row.title
    return Variant(row.code, row.title, tail.strip(" ,") or row.title)


def family_of(system: str, key: str, stems: frozenset[tuple[str, str]]) -> str:
    """The stem a code shares with its 7th-character siblings ('S61452A' -> 'S61452', 'V0609XA' -> 'V0609', the
    placeholder X dropped); any other code is its own family. A 7th character extends a code when a placeholder X
    pads it or its 6-character stem is itself a non-codable code; G71.0340 is an ordinary child of G71.034."""
    if system != FAMILY_SYSTEM or len(key) != 7 or not key.isalnum():
        return key  # block keys such as 'X71-X83' are 7 characters too
    stem = key[:6]
    if "X" in stem[3:] or (system, stem) in stems:
        return stem.rstrip("X")
    return key


def applies(ranked: list[int], fusion: Fusion, u: qu.Understood) -> bool:
    """Fold unless the query typed a code (every sibling is wanted then) or named an encounter or 7th character
    (the siblings are the very choice the query makes: 'subs for opn fx type 3A' weighs E against F)."""
    if not ranked or "code" in fusion.seen.get(ranked[0], {}):
        return False
    return not u.seventh and u.encounter in ("", UNSTATED)


def fold(ranked: list[int], store: IndexStore) -> tuple[list[int], dict[int, list[int]]]:
    """One place per family, at its best rank: the family's best-ranked codable member holds it, and the others
    (the non-billable stem, other encounters) are listed with it in code order. Codes outside ICD-10-CM pass
    through. Returns the folded order and, for each code that stands for others, those others."""
    out: list[int] = []
    place: dict[str, int] = {}
    folded: dict[int, list[int]] = {}
    for i in ranked:
        system = str(store.system_of[i])
        if system != FAMILY_SYSTEM:
            out.append(i)
            continue
        family = family_of(system, str(store.key_of[i]), store.stems)
        at = place.get(family)
        if at is None:
            place[family] = len(out)
            out.append(i)
            continue
        head = out[at]
        if store.billable[i] and not store.billable[head]:
            out[at] = i  # the first codable member takes the place of the stem that ranked above it
            folded[i] = [head, *folded.pop(head, [])]
        else:
            folded.setdefault(head, []).append(i)
    for members in folded.values():
        members.sort(key=lambda j: str(store.key_of[j]))  # the tabular's order: stem, then A, B, C, D, ... S
    return out, folded


def initial_holders(page: list[int], folded: dict[int, list[int]], fusion: Fusion, store: IndexStore) -> list[int]:
    """A query that names no encounter is coded for active treatment: where a later encounter's code holds its
    family's place on the page (S92.402P ranked above S92.402A), the family's initial-encounter code (closed
    fracture, the default when a fracture is not called open) takes the place, and the other is listed with it."""
    out = list(page)
    for n, i in enumerate(page):
        key = str(store.key_of[i])
        if str(store.system_of[i]) != FAMILY_SYSTEM or len(key) != 7 or key[6] == "A":
            continue
        first = store.code_id(FAMILY_SYSTEM, key[:6] + "A")
        if first is None:
            continue
        rows = store.rows([i, first])
        if (i not in rows or first not in rows or not title_encounters(rows[i].title) - {"initial"}
                or "initial" not in title_encounters(rows[first].title)):
            continue
        members = [j for j in folded.pop(i, []) if j != first] + [i]
        folded[first] = sorted(members, key=lambda j: str(store.key_of[j]))
        fusion.scores[first] = max(fusion.scores.get(first, 0.0), fusion.scores[i])
        fusion.reasons[first] = list(fusion.reasons.get(first) or fusion.reasons[i])
        out[n] = first
    return out


def with_seventh(head: list[int], fusion: Fusion, store: IndexStore, seventh: str) -> list[int]:
    """For a query naming a 7th character, each candidate's sibling with that character joins in its place
    (S52.121M -> S52.121N): the words of the two titles barely differ, so retrieval may have missed it."""
    out = list(head)
    for i in head:
        key = str(store.key_of[i])
        if len(key) < 3 or (len(key) == 7 and key[6] == seventh):
            continue
        sibling = store.code_id(str(store.system_of[i]), key[:6].ljust(6, "X") + seventh)
        if sibling is not None and sibling not in fusion.scores:
            fusion.scores[sibling] = fusion.scores[i]
            fusion.reasons[sibling] = list(fusion.reasons[i])
            out.append(sibling)
    return out
