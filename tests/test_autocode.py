"""Best match: one codable code with a calibrated confidence, 'no confident match' below the threshold."""
import json

import numpy as np
import pytest

from service.evaluation import calibrate
from service.search import autocode
from service.search.autocode import FEATURES, Calibration, best_match, choose

ALWAYS = Calibration(tuple([8.0] + [0.0] * (len(FEATURES) - 1)), 0.5)
NEVER = Calibration(tuple([-8.0] + [0.0] * (len(FEATURES) - 1)), 0.5)


def test_the_best_match_is_the_first_billable_code_near_the_top(engine):
    answer = best_match(engine, "acute gallbladder inflammation with stones", None, ALWAYS)
    assert answer.confident and answer.hit.billable and answer.hit.code.startswith("K80")
    result = engine.search("acute gallbladder inflammation with stones", limit=10)
    assert answer.hit == choose(result.hits)


def test_below_the_threshold_the_answer_is_no_confident_match(client, engine, monkeypatch):
    from service.web import api
    monkeypatch.setattr(api, "CALIBRATION", NEVER)
    body = client.get("/api/autocode", params={"text": "gastrointestinal hemorrhage"}).json()
    assert body["match"] is None and body["confident"] is False and body["message"].startswith("no confident match")
    assert body["candidate"]["code"].startswith("K92")
    monkeypatch.setattr(api, "CALIBRATION", ALWAYS)
    body = client.get("/api/autocode", params={"text": "k922"}).json()
    assert body["confident"] and body["match"]["code"] == "K92.2" and 0.5 <= body["confidence"] <= 1
    assert client.get("/api/autocode", params={"text": ""}).status_code == 400
    assert client.get("/api/autocode", params={"text": "heart", "system": "snomed"}).status_code == 400


def test_features_say_how_the_top_code_was_found(engine):
    exact = engine.search("K92.2", limit=10)
    x = dict(zip(FEATURES, autocode.features(exact, choose(exact.hits), ("k922",))))
    assert x["exact_code"] == 1.0 and x["bias"] == 1.0
    words = engine.search("gastrointestinal hemorrhage", limit=10)
    y = dict(zip(FEATURES, autocode.features(words, choose(words.hits), ("gastrointestinal", "hemorrhage"))))
    assert y["exact_code"] == 0.0 and y["coverage"] == 1.0 and y["all_words"] == 1.0


def test_the_calibration_fit_recovers_a_known_relation_and_measures_it():
    rng = np.random.default_rng(3)
    x = np.c_[np.ones(4000), rng.normal(size=4000)]
    truth = 1 / (1 + np.exp(-(0.5 + 2.0 * x[:, 1])))
    y = (rng.random(4000) < truth).astype(float)
    w = calibrate.fit(x, y, l2=0.0)
    assert abs(w[0] - 0.5) < 0.2 and abs(w[1] - 2.0) < 0.3
    p = 1 / (1 + np.exp(-(x @ w)))
    assert calibrate.expected_calibration_error(p, y) < 0.05
    assert calibrate.expected_calibration_error(np.full(4000, 0.99), y) > 0.3  # an overconfident model is caught
    t = calibrate.threshold_for(p, y, precision=0.9)
    assert y[p >= t].mean() >= 0.9


def test_the_packaged_calibration_loads_and_records_its_fit():
    packaged = Calibration.load()
    if packaged is None:
        pytest.fail("service/search/autocode.json is missing or malformed; run make calibrate")
    assert len(packaged.weights) == len(FEATURES) and 0 < packaged.threshold < 1
    assert packaged.record["held_out"]["queries"] > 100


def test_cli_best_mode_prints_one_answer_per_line(fixture_settings, monkeypatch, capsys):
    import io

    from service.cli import main
    monkeypatch.setattr("sys.stdin", io.StringIO("k922\nzzqx blorf\n"))
    status = main(["--index", str(fixture_settings.index_dir), "--encoder", "stub", "search", "--best"])
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert status == 0 and [line["query"] for line in lines] == ["k922", "zzqx blorf"]
    assert all("confidence" in line and "match" in line for line in lines)
