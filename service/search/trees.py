"""Gradient-boosted regression trees (a LightGBM model dump) scored in numpy, so serving needs no LightGBM."""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

LEAF = -1  # the feature number of a leaf


@dataclass(frozen=True)
class Trees:
    """All trees in flat node arrays: node n splits on feature[n] (x <= threshold[n] goes to left[n], else right[n])
    or, when feature[n] is LEAF, is a leaf worth value[n]. roots[t] is tree t's first node."""
    feature: np.ndarray
    threshold: np.ndarray
    left: np.ndarray
    right: np.ndarray
    value: np.ndarray
    roots: np.ndarray
    depth: int  # the longest path from a root to a leaf

    def raw(self, x: np.ndarray) -> np.ndarray:
        """The sum of every tree's leaf for each row of x, all trees walked together one level at a time (a leaf
        leads to itself both ways, so a path that ends early stays on its leaf)."""
        below = x[:, np.maximum(self.feature, 0)] <= self.threshold  # every split of every tree at once
        node = np.repeat(self.roots[:, None], len(x), axis=1)
        rows = np.arange(len(x))[None, :]
        for _ in range(self.depth):
            node = self._children[2 * node + below[rows, node]]
        total: np.ndarray = self.value[node].sum(axis=0)
        return total

    @cached_property
    def _children(self) -> np.ndarray:
        """Both children of every node in one array, made once: node n's right child at 2n, its left at 2n + 1."""
        return np.stack([self.right, self.left], axis=1).ravel()

    def to_json(self) -> dict:
        return {"feature": self.feature.tolist(), "threshold": self.threshold.tolist(), "left": self.left.tolist(),
                "right": self.right.tolist(), "value": self.value.tolist(), "roots": self.roots.tolist(),
                "depth": self.depth}

    @classmethod
    def from_json(cls, data: dict) -> "Trees":
        return cls(np.array(data["feature"], dtype=np.int64), np.array(data["threshold"], dtype=np.float64),
                   np.array(data["left"], dtype=np.int64), np.array(data["right"], dtype=np.int64),
                   np.array(data["value"], dtype=np.float64), np.array(data["roots"], dtype=np.int64),
                   int(data["depth"]))


def from_lightgbm(dump: dict) -> Trees:
    """Flattens LightGBM's `Booster.dump_model()`. Only numerical splits ('<=') are read, a categorical one or one
    that treats zero as missing is refused rather than scored wrongly; LightGBM's branch for a missing (NaN) value is
    not kept, as the ranker's features are always finite."""
    feature: list[int] = []
    threshold: list[float] = []
    left: list[int] = []
    right: list[int] = []
    value: list[float] = []
    depth = 0

    def add(node: dict, level: int) -> int:
        nonlocal depth
        n = len(feature)
        feature.append(LEAF)
        threshold.append(0.0)
        left.append(n)
        right.append(n)
        value.append(float(node.get("leaf_value", 0.0)))
        if "split_feature" not in node:
            depth = max(depth, level)
            return n
        if node.get("decision_type") != "<=" or node.get("missing_type", "None") not in ("None", "NaN"):
            raise ValueError(f"unsupported split: {node.get('decision_type')} / {node.get('missing_type')}")
        feature[n], threshold[n] = int(node["split_feature"]), float(node["threshold"])
        left[n] = add(node["left_child"], level + 1)
        right[n] = add(node["right_child"], level + 1)
        return n

    roots = [add(tree["tree_structure"], 0) for tree in dump["tree_info"]]
    return Trees(np.array(feature, dtype=np.int64), np.array(threshold), np.array(left, dtype=np.int64),
                 np.array(right, dtype=np.int64), np.array(value), np.array(roots, dtype=np.int64), depth)
