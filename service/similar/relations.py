"""How two codes are related (hierarchy, CCS/CCSR, shared ICD-9-CM code, PCS axes, near-duplicates), as flags and words."""
from __future__ import annotations

import re

import numpy as np

from embeddings.groupings import CM, PCS
from service.similar.data import SimilarData

SEMANTIC = "semantically close description"
# Flags that come from the code system's structure or an official grouping (not from the embedding).
STRUCTURAL = ("procedure", "sibling", "parent", "child", "category", "ccs", "ccs_level2", "ccsr", "gem")
# Bonuses added to the cosine similarity; sizes chosen so structure reorders close calls, not strangers.
WEIGHTS = {"procedure": 0.12, "sibling": 0.08, "child": 0.06, "parent": 0.05, "category": 0.04,
           "ccs": 0.08, "ccs_level2": 0.02, "ccsr": 0.06, "gem": 0.05}
# Neighbours with no structural link from another chapter/section: the "wrong part of the classification".
OFF_CHAPTER = 0.05
ANCHOR_WORDS = {"category": "same category", "subcategory": "same subcategory", "block": "same block",
                "table": "same table", "body_system": "same body system", "section": "same section",
                "chapter": "same chapter"}
PCS_AXES = {4: "approach", 5: "device", 6: "qualifier"}
_CCS_NUMBER = re.compile(r"\s*\[[0-9.]+\]$")


def features(data: SimilarData, q: int, rows: np.ndarray) -> dict[str, np.ndarray]:
    """One boolean array per relation between the query row and each candidate row."""
    rows = np.asarray(rows, dtype=np.int64)
    anchor, category = data.tables.anchor.of, data.tables.category.of
    # "child" reaches below the 7th-character base and the category too: I21.A9 is more specific than I21.
    f = {"parent": rows == data.tables.parent[q],
         "child": (data.tables.parent[rows] == q) | (anchor[rows] == q) | (category[rows] == q)}
    near = f["parent"] | f["child"]
    f["sibling"] = (anchor[rows] == anchor[q]) & (anchor[q] >= 0) & ~near
    f["category"] = ((category[rows] == category[q]) & (category[q] >= 0) & (data.system[q] == CM)
                     & ~near & ~f["sibling"])
    if data.system[q] == PCS and data.tables.pcs_chars[q, 0]:
        f["procedure"] = (data.tables.pcs_chars[rows, :4] == data.tables.pcs_chars[q, :4]).all(axis=1) & (rows != q)
    else:
        f["procedure"] = np.zeros(len(rows), dtype=bool)
    for scheme in ("ccs", "ccs_level2", "ccsr"):
        group = data.tables.single[scheme]
        f[scheme] = (group[rows] == group[q]) & (group[q] >= 0)
    f["gem"] = np.isin(rows, shared_gem_rows(data, q)) & (rows != q)
    f["family"] = (data.tables.head[rows] == data.tables.head[q]) & (rows != q)
    f["same_chapter"] = data.chapter[rows] == data.chapter[q]
    return f


def shared_gem_rows(data: SimilarData, q: int) -> np.ndarray:
    gem = data.tables.schemes["gem"]
    parts = [gem.by_group.members(g) for g in gem.of(q)]
    return np.unique(np.concatenate(parts)) if parts else np.zeros(0, dtype=np.int64)


def structural(f: dict[str, np.ndarray]) -> np.ndarray:
    return np.logical_or.reduce([f[name] for name in STRUCTURAL])


def bonus(f: dict[str, np.ndarray]) -> np.ndarray:
    total = sum(WEIGHTS[name] * f[name] for name in WEIGHTS)
    return total - OFF_CHAPTER * (~structural(f) & ~f["same_chapter"])


def describe(data: SimilarData, q: int, row: int, flags: dict[str, bool], semantic: bool, records: dict) -> tuple[str, ...]:
    """Plain-word reasons, structural first; `records` maps row -> Code (for PCS axis labels)."""
    out = []
    if flags["family"]:
        out.append(family_reason(data, q, row))
    if flags["procedure"] and not flags["family"]:
        out.append(procedure_reason(q, row, records))
    if flags["parent"]:
        out.append("parent code")
    if flags["child"]:
        out.append("more specific code")
    if flags["sibling"]:
        anchor = data.tables.anchor.of[q]
        out.append(f"{ANCHOR_WORDS.get(data.tables.kind[anchor], 'same parent code')} ({data.tables.code[anchor]})")
    if flags["category"]:
        out.append(f"same category ({data.tables.code[data.tables.category.of[q]]})")
    if flags["ccs"]:
        out.append(f"same CCS group: {group_label(data, 'ccs', q)}")
    elif flags["ccs_level2"]:
        out.append(f"same broader CCS group: {group_label(data, 'ccs_level2', q)}")
    if flags["ccsr"]:
        out.append(f"same CCSR category: {group_label(data, 'ccsr', q)}")
    if flags["gem"]:
        shared = sorted(set(_gem_names(data, q)) & set(_gem_names(data, row)))
        noun = "procedure code" if data.system[q] == PCS else "code"
        out.append(f"same ICD-9-CM {noun} {', '.join(shared[:2])} (GEM)")
    if semantic:
        out.append(SEMANTIC)
    return tuple(out)


def group_label(data: SimilarData, scheme: str, row: int) -> str:
    groups = data.tables.schemes[scheme]
    number = data.tables.single[scheme][row]
    label = _CCS_NUMBER.sub("", groups.labels[number])
    return label or groups.names[number].split(":", 1)[1]


def _gem_names(data: SimilarData, row: int) -> list[str]:
    gem = data.tables.schemes["gem"]
    return [gem.names[g].split(":", 1)[1] for g in gem.of(row)]


def family_reason(data: SimilarData, q: int, row: int) -> str:
    what = "same procedure" if data.system[q] == PCS else "same code"
    if data.tables.side[row] != data.tables.side[q]:
        return f"{what}, other side ({data.tables.side[row]})"
    detail = f" ({str(data.tables.detail[row]).lower()})" if data.tables.detail[row] else ""
    if data.system[q] == PCS:
        return f"{what}, other qualifier{detail}"
    return f"{what}, other 7th character{detail}"


def procedure_reason(q: int, row: int, records: dict) -> str:
    """PCS codes sharing their first four characters: name the axes that differ and the other code's values."""
    mine, theirs = records.get(q), records.get(row)
    if mine is None or theirs is None or len(mine.axes) != 7 or len(theirs.axes) != 7:
        return "same procedure on the same body part"
    differ = [p for p in PCS_AXES if mine.code[p] != theirs.code[p]]
    names = " and ".join(dict.fromkeys(theirs.axes[p].name.lower() or PCS_AXES[p] for p in differ))
    labels = ", ".join(theirs.axes[p].label.lower() for p in differ if theirs.axes[p].label)
    return f"same procedure, other {names}" + (f" ({labels})" if labels else "")


def short_detail(text: str) -> str:
    """'subsequent encounter for fracture with routine healing' -> 'subsequent encounter'."""
    return text.split(" for ")[0].strip().lower()
