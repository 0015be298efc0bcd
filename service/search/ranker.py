"""The learned ranking stage: a model over per-candidate features (a pairwise-trained linear model, optionally with
a hidden layer, boosted trees, or the linear model and trees added) replaces hand-set fusion weights."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from embeddings.index.rows import CodeRow
from embeddings.index.store import IndexStore
from service.search import coverage, newtech
from service.search import understanding as qu
from service.search.fusion import Fusion
from service.search.trees import Trees

MODEL_FILE = Path(__file__).parent / "ranker.json"
RANK_DEPTH = 120  # candidates (best fused first) the model scores; the rest keep their fused order after them
FEATURES = ("rrf", "lexical_rr", "lexical_all_words", "lexical_some_words", "dense_score", "dense_rr", "dense_absent",
            "code_exact", "code_prefix", "billable", "depth", "title_slots", "title_share", "title_both",
            "intent_agrees", "intent_conflicts", "expanded", "query_words", "new_technology",
            "title_slots_gap", "title_share_gap", "title_both_gap", "dense_gap", "synonym_dense", "synonym_dense_gap",
            "title_unspecified", "asks_unspecified")
_UNSPECIFIED = re.compile(r"\b(?:unspecified|NOS)\b")
# Listwise features: a candidate's value less the best among the candidates of its query. Siblings' titles differ
# by a word or two ('routine' or 'delayed' healing), so what tells them apart is which of them says the query best.
GAPS = (("title_slots_gap", "title_slots"), ("title_share_gap", "title_share"), ("title_both_gap", "title_both"),
        ("dense_gap", "dense_score"), ("synonym_dense_gap", "synonym_dense"))


@dataclass(frozen=True)
class RankerModel:
    """score = sigmoid(z·weights + bias + tanh(z·hidden + hidden_bias)·output + trees_weight·trees(x)), z the
    standardised features, x the raw ones. Without a hidden layer or trees it is a linear (logistic) model; trees alone
    have zero weights; a blend has both."""
    names: tuple[str, ...]
    weights: np.ndarray
    bias: float
    mean: np.ndarray
    scale: np.ndarray
    info: dict
    hidden: np.ndarray | None = None  # features x units
    hidden_bias: np.ndarray | None = None
    output: np.ndarray | None = None
    trees: Trees | None = None
    trees_weight: float = 1.0

    def raw(self, x: np.ndarray) -> np.ndarray:
        z = (x - self.mean) / self.scale
        value: np.ndarray = z @ self.weights + self.bias
        if self.hidden is not None and self.hidden_bias is not None and self.output is not None:
            value = value + np.tanh(z @ self.hidden + self.hidden_bias) @ self.output
        if self.trees is not None:
            value = value + self.trees_weight * self.trees.raw(x)
        return value

    def score(self, x: np.ndarray) -> np.ndarray:
        scores: np.ndarray = 1.0 / (1.0 + np.exp(-self.raw(x)))
        return scores

    def to_json(self) -> dict:
        data = {"features": list(self.names), "weights": self.weights.round(6).tolist(), "bias": round(self.bias, 6),
                "mean": self.mean.round(6).tolist(), "scale": self.scale.round(6).tolist(), "info": self.info}
        if self.hidden is not None and self.hidden_bias is not None and self.output is not None:
            data |= {"hidden": self.hidden.round(6).tolist(), "hidden_bias": self.hidden_bias.round(6).tolist(),
                     "output": self.output.round(6).tolist()}
        if self.trees is not None:
            data |= {"trees": self.trees.to_json(), "trees_weight": self.trees_weight}
        return data

    @classmethod
    def from_json(cls, data: dict) -> "RankerModel":
        layer = {k: np.array(data[k]) for k in ("hidden", "hidden_bias", "output") if k in data}
        trees = Trees.from_json(data["trees"]) if "trees" in data else None
        return cls(tuple(data["features"]), np.array(data["weights"]), float(data["bias"]), np.array(data["mean"]),
                   np.array(data["scale"]), dict(data.get("info", {})), **layer, trees=trees,
                   trees_weight=float(data.get("trees_weight", 1.0)))


def configured_file(setting: str) -> Path:
    """The weights file the ranker_file setting names, or the committed one when it names none."""
    return Path(setting) if setting else MODEL_FILE


def load_configured(setting: str) -> RankerModel | None:
    """The ranker of the ranker_file setting; a file it names must exist (a typo must not fall back silently)."""
    if setting and not Path(setting).is_file():
        raise ValueError(f"ranker file {setting!r} (MEDCODES_RANKER_FILE) does not exist; "
                         "write it with `make ranker` or unset the setting")
    return load(configured_file(setting))


def load(path: Path = MODEL_FILE) -> RankerModel | None:
    """The trained model, or None when there is none or it was trained on other features (RRF is used then)."""
    if not path.exists():
        return None
    model = RankerModel.from_json(json.loads(path.read_text()))
    return model if model.names == FEATURES else None


def features(ids: list[int], fusion: Fusion, rows: dict[int, CodeRow], store: IndexStore, u: qu.Understood,
             use_coverage: bool = True) -> np.ndarray:
    """One row of FEATURES per candidate id."""
    x = np.zeros((len(ids), len(FEATURES)), dtype=np.float64)
    words = float(len(u.slots))
    expanded = float(bool(u.expansions))
    asks = float(u.unspecified)
    for n, i in enumerate(ids):
        seen = fusion.seen.get(i, {})
        lexical, dense, code = seen.get("lexical"), seen.get("dense"), seen.get("code")
        row = rows.get(i)
        cosine = dense[2] if dense else fusion.similarity.get(i, 0.0)
        unspecified = float(row is not None and _UNSPECIFIED.search(row.title) is not None)
        slots_share, title_share = coverage.shares(row.title, u.slots) if row and use_coverage else (0.0, 0.0)
        x[n] = (
            fusion.scores.get(i, 0.0) * 60,
            1.0 / (1 + lexical[0]) if lexical else 0.0,
            float(lexical is not None and lexical[1] >= 1.0),
            float(lexical is not None and lexical[1] < 1.0),
            cosine,
            1.0 / (1 + dense[0]) if dense else 0.0,
            float(dense is None),
            float(bool(code) and fusion.scores.get(i, 0.0) >= 10),
            float(code is not None),
            float(store.billable[i]),
            len(store.key_of[i]) / 7.0,
            slots_share, title_share, slots_share * title_share,
            float(bool(u.intent) and store.system_of[i] == u.intent),
            float(bool(u.intent) and store.system_of[i] != u.intent),
            expanded, min(words, 10.0) / 10.0,
            # PCS section X (New Technology) codes, each for one new device or drug; the model learns their weight.
            float(newtech.is_new_technology(store, i)),
            0.0, 0.0, 0.0, 0.0,
            # The code's vector or one of its own synonyms', whichever is nearer the query (`terms`).
            max(cosine, fusion.term_similarity.get(i, cosine)), 0.0,
            # ICD-10-CM reads NOS as 'unspecified': a query saying either asks for the code that leaves details out.
            unspecified, unspecified * asks,
        )
    if len(ids):
        for gap, of in GAPS:
            column = x[:, FEATURES.index(of)]
            x[:, FEATURES.index(gap)] = column - column.max()
    return x


def rerank(ranked: list[int], fusion: Fusion, store: IndexStore, u: qu.Understood, model: RankerModel,
           use_coverage: bool = True) -> list[int]:
    """The top RANK_DEPTH re-ordered by the model; their fused scores become the model's probabilities."""
    head = ranked[:RANK_DEPTH]
    if not head:
        return ranked
    rows = store.rows(head)
    scores = model.score(features(head, fusion, rows, store, u, use_coverage))
    for i, s in zip(head, scores):
        exact = fusion.scores[i] >= 10  # an exact code match stays pinned first
        fusion.scores[i] = float(s) + (10.0 if exact else 0.0)
    return sorted(head, key=lambda i: -fusion.scores[i]) + ranked[RANK_DEPTH:]
