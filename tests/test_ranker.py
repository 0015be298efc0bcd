"""The learned ranking stage: features, the logistic and tree fits, and the engine using (or not using) the model."""
import json
import re

import numpy as np
import pytest

from service.evaluation import learn
from service.evaluation import sets as es
from service.search import query as q
from service.search import ranker, trees
from service.search.engine import DEFAULT_FEATURES, SearchEngine


def test_fit_learns_a_separable_signal_and_beats_the_given_order():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(600, len(ranker.FEATURES)))
    y = (x[:, 4] + 0.1 * rng.normal(size=600) > 1.0).astype(float)  # relevance lives in one feature
    groups = np.repeat(np.arange(60), 10)
    model = learn.fit(x, y, groups)
    assert np.argmax(np.abs(model.weights)) == 4 and model.weights[4] > 0
    assert learn.mrr(x, y, groups, model) > learn.mrr(x, y, groups, None)
    again = ranker.RankerModel.from_json(model.to_json())
    assert np.allclose(again.score(x), model.score(x), atol=1e-4)


def test_the_network_learns_features_acting_together_where_a_linear_model_cannot(monkeypatch):
    monkeypatch.setattr(learn, "NET_STEPS", 300)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(800, len(ranker.FEATURES)))
    a, b = x[:, 4], x[:, 12]
    y = ((a > 0) == (b > 0)).astype(float)  # relevant when two features agree in sign: no single weight says it
    groups = np.repeat(np.arange(80), 10)
    linear, network = learn.fit(x, y, groups), learn.fit_network(x, y, groups)
    assert learn.mrr(x, y, groups, network) > learn.mrr(x, y, groups, linear) + 0.1
    again = ranker.RankerModel.from_json(network.to_json())
    assert again.hidden is not None and np.allclose(again.score(x), network.score(x), atol=1e-4)


def test_the_ensemble_scores_as_the_mean_of_its_networks(monkeypatch):
    monkeypatch.setattr(learn, "NET_STEPS", 50)
    rng = np.random.default_rng(2)
    x, y, groups = rng.normal(size=(200, len(ranker.FEATURES))), (rng.random(200) < 0.2).astype(float), \
        np.repeat(np.arange(20), 10)
    members = [learn.fit_network(x, y, groups, learn.SEED + k) for k in range(3)]
    merged = learn.fit_ensemble(x, y, groups, members=3)
    assert merged.hidden is not None and merged.hidden.shape[1] == 3 * learn.NET_UNITS
    assert np.allclose(merged.raw(x), np.mean([m.raw(x) for m in members], axis=0), atol=1e-6)


def test_features_describe_each_candidate_from_every_path(engine):
    text = "appendicitis"
    parsed, u, fusion = engine.candidates(text, q.parse(text), None, "hybrid", DEFAULT_FEATURES)
    head = fusion.ranked()[:ranker.RANK_DEPTH]
    x = ranker.features(head, fusion, engine.store.rows(head), engine.store, u)
    assert x.shape == (len(head), len(ranker.FEATURES)) and np.isfinite(x).all()
    col = {name: n for n, name in enumerate(ranker.FEATURES)}
    top = dict(zip(ranker.FEATURES, x[0]))
    assert top["lexical_rr"] > 0 and 0 < top["title_slots"] <= 1
    assert (x[:, col["dense_absent"]] == 0).any() and set(np.unique(x[:, col["billable"]])) <= {0.0, 1.0}


def test_training_sets_never_share_a_query_with_the_evaluation_sets(engine):
    evaluation = es.query_sets(engine.store)
    training = es.train_sets(engine.store, evaluation)
    asked = {q.text.lower() for s in evaluation.values() for q in s.queries}
    assert any(s.queries for s in training.values())  # the fixture is small: the evaluation sets take most
    assert not asked & {q.text.lower() for s in training.values() for q in s.queries}


def _deepest_first(bias: float = 0.0) -> ranker.RankerModel:
    """A linear model that wants the longest codes first."""
    weights = np.zeros(len(ranker.FEATURES))
    weights[ranker.FEATURES.index("depth")] = 5.0
    return ranker.RankerModel(ranker.FEATURES, weights, bias, np.zeros(len(weights)), np.ones(len(weights)), {})


def test_the_engine_reorders_by_the_model_and_can_do_without_it(engine, monkeypatch):
    deep = _deepest_first()
    monkeypatch.setattr(engine, "ranker", deep)
    hits = engine.search("appendicitis", limit=5).hits
    assert [len(h.code.replace(".", "")) for h in hits] == sorted((len(h.code.replace(".", "")) for h in hits),
                                                                 reverse=True)
    plain = engine.search("appendicitis", limit=5, features=DEFAULT_FEATURES - {"ranker"}).hits
    assert [h.code for h in plain] != [h.code for h in hits]
    monkeypatch.setattr(engine, "ranker", None)
    assert [h.code for h in engine.search("appendicitis", limit=5).hits] == [h.code for h in plain]


def test_the_ranker_file_setting_names_the_weights_an_engine_serves(engine, tmp_path):
    deep = _deepest_first(bias=0.25)
    path = tmp_path / "ranker-other-model.json"
    path.write_text(json.dumps(deep.to_json()))
    served = SearchEngine(engine.store, engine.encoder, engine.settings.replace(ranker_file=str(path)))
    assert served.ranker.bias == 0.25 and served.ranker.weights[ranker.FEATURES.index("depth")] == 5.0
    committed = SearchEngine(engine.store, engine.encoder, engine.settings.replace(ranker_file=""))
    assert np.array_equal(committed.ranker.weights, ranker.load(ranker.MODEL_FILE).weights)
    with pytest.raises(ValueError, match="does not exist"):
        SearchEngine(engine.store, engine.encoder, engine.settings.replace(ranker_file=str(tmp_path / "typo.json")))


def test_gap_features_measure_each_candidate_against_the_best_of_its_query(engine):
    text = "appendicitis"
    parsed, u, fusion = engine.candidates(text, q.parse(text), None, "hybrid", DEFAULT_FEATURES)
    head = fusion.ranked()[:ranker.RANK_DEPTH]
    x = ranker.features(head, fusion, engine.store.rows(head), engine.store, u)
    for gap, of in ranker.GAPS:
        g, v = x[:, ranker.FEATURES.index(gap)], x[:, ranker.FEATURES.index(of)]
        assert np.allclose(g, v - v.max()) and g.max() == 0.0
    assert (x[:, ranker.FEATURES.index("title_both_gap")] < 0).any()  # not every candidate says the query as well


def test_candidates_only_the_words_found_still_get_their_meaning_score(engine):
    engine = SearchEngine(engine.store, engine.encoder, engine.settings.replace(candidates=5))  # few per path
    text = "appendicitis with peritonitis"
    parsed, u, fusion = engine.candidates(text, q.parse(text), None, "hybrid", DEFAULT_FEATURES)
    head = fusion.ranked()[:ranker.RANK_DEPTH]
    words_only = [i for i in head if "dense" not in fusion.seen[i]]
    assert words_only and set(fusion.similarity) == set(words_only)
    vector = engine.embed(u.dense_text)
    for i in words_only:
        stored = engine.store.vector(str(engine.store.system_of[i]), i)
        assert abs(fusion.similarity[i] - float(stored @ vector)) < 1e-5
    x = ranker.features(head, fusion, engine.store.rows(head), engine.store, u)
    score = x[:, ranker.FEATURES.index("dense_score")]
    assert all(score[head.index(i)] == fusion.similarity[i] for i in words_only)
    plain = engine.candidates(text, q.parse(text), None, "hybrid", DEFAULT_FEATURES - {"ranker"})[2]
    assert not plain.similarity  # RRF alone never reads it, so it is not computed


def test_trees_learn_features_acting_together_and_score_as_lightgbm_does():
    import lightgbm

    rng = np.random.default_rng(3)
    x = rng.normal(size=(1200, len(ranker.FEATURES)))
    y = ((x[:, 4] > 0) == (x[:, 12] > 0)).astype(float)  # the interaction a linear model cannot say
    groups = np.repeat(np.arange(120), 10)
    model = learn.fit_trees(x, y, groups)
    assert learn.mrr(x, y, groups, model) > learn.mrr(x, y, groups, learn.fit(x, y, groups)) + 0.1
    booster = lightgbm.LGBMRanker(**learn.TREE_PARAMS, random_state=learn.SEED, verbose=-1)
    booster.fit(x, y, group=np.full(120, 10))
    assert np.allclose(model.raw(x), booster.predict(x), atol=1e-9)
    again = ranker.RankerModel.from_json(json.loads(json.dumps(model.to_json())))
    assert again.trees is not None and np.array_equal(again.raw(x), model.raw(x))


def test_trees_walk_each_tree_to_its_leaf_and_refuse_splits_they_cannot_read():
    split = {"split_feature": 1, "threshold": 0.5, "decision_type": "<=", "missing_type": "None",
             "left_child": {"leaf_value": 1.0},
             "right_child": {"split_feature": 0, "threshold": 2.0, "decision_type": "<=", "missing_type": "None",
                             "left_child": {"leaf_value": 10.0}, "right_child": {"leaf_value": 100.0}}}
    model = trees.from_lightgbm({"tree_info": [{"tree_structure": split}, {"tree_structure": {"leaf_value": -0.5}}]})
    x = np.array([[0.0, 0.5], [2.0, 0.6], [2.5, 0.6]])
    assert model.depth == 2 and model.raw(x).tolist() == [0.5, 9.5, 99.5]
    with pytest.raises(ValueError):
        trees.from_lightgbm({"tree_info": [{"tree_structure": {**split, "decision_type": "=="}}]})


def test_make_ranker_writes_the_file_the_setting_names_even_before_it_exists(fixture_settings, tmp_path,
                                                                              monkeypatch):
    target = tmp_path / "models" / "ranker-other.json"
    committed = ranker.MODEL_FILE.read_bytes()
    monkeypatch.setattr(learn.Settings, "from_env", classmethod(
        lambda cls, **_kw: fixture_settings.replace(ranker_file=str(target))))
    from conftest import FIXTURE_PREFIXES

    from embeddings.index.build import BuildRequest
    from service.evaluation import heldout as ho
    # The fixture index is a subset its manifest does not record: its held-out build needs the same one.
    monkeypatch.setattr(ho, "base_request", lambda _manifest: BuildRequest(prefixes=FIXTURE_PREFIXES))
    assert learn.main([]) == 0
    written = ranker.load(target)
    assert written is not None and written.names == ranker.FEATURES
    assert ranker.MODEL_FILE.read_bytes() == committed  # the committed weights are left as they were


def test_a_query_saying_nos_marks_the_unspecified_titles_it_asks_for(engine):
    def columns(text: str) -> tuple[list[str], np.ndarray, np.ndarray]:
        parsed, u, fusion = engine.candidates(text, q.parse(text), None, "hybrid", DEFAULT_FEATURES)
        head = fusion.ranked()[:ranker.RANK_DEPTH]
        rows = engine.store.rows(head)
        x = ranker.features(head, fusion, rows, engine.store, u)
        return ([rows[i].title for i in head], x[:, ranker.FEATURES.index("title_unspecified")],
                x[:, ranker.FEATURES.index("asks_unspecified")])

    titles, unspecified, asks = columns("appendicitis NOS")
    assert list(unspecified) == [float(bool({"unspecified", "NOS"} & set(re.findall(r"\w+", t)))) for t in titles]
    assert unspecified.any() and not unspecified.all() and (asks == unspecified).all()
    titles, unspecified, asks = columns("appendicitis")
    assert unspecified.any() and not asks.any()


def test_blend_adds_the_linear_score_and_the_trees_and_keeps_both_through_its_file():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(1200, len(ranker.FEATURES)))
    y = ((x[:, 4] > 0) == (x[:, 12] > 0)).astype(float)
    groups = np.repeat(np.arange(120), 10)
    blend = learn.fit_blend(x, y, groups, lay=set(range(10)))
    linear = learn.fit(x, y, groups)
    boosted = learn.fit_trees(*learn.repeat_groups(x, y, groups, set(range(10)), learn.LAY_REPEATS))
    assert blend.trees is not None and blend.trees_weight == learn.BLEND_TREES
    assert np.allclose(blend.raw(x), linear.raw(x) + learn.BLEND_TREES * boosted.raw(x))
    again = ranker.RankerModel.from_json(json.loads(json.dumps(blend.to_json())))
    assert np.allclose(again.raw(x), blend.raw(x), atol=1e-4)  # weights are written to six decimals
    assert learn.mrr(x, y, groups, blend) > learn.mrr(x, y, groups, linear) + 0.1  # the trees' interaction is kept
