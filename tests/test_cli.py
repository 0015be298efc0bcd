"""The medcodes CLI: search output, JSON lines from stdin, similar, and exit codes for bad input."""
import io
import json

import pytest

from service.cli import main


@pytest.fixture
def cli_env(fixture_settings, monkeypatch):
    monkeypatch.setenv("MEDCODES_INDEX_DIR", str(fixture_settings.index_dir))
    monkeypatch.setenv("MEDCODES_ENCODER", "stub")


def test_search_json(cli_env, capsys):
    assert main(["search", "k922", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["results"][0]["code"] == "K92.2" and out["results"][0]["system"] == "icd10cm"


def test_search_reads_json_lines_from_stdin(cli_env, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("k922\n\n0DTJ\n"))
    assert main(["search", "--limit", "3"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["query"] for line in lines] == ["k922", "0DTJ"]
    assert lines[0]["results"][0]["code"] == "K92.2"
    assert all(set(r) >= {"system", "code", "title", "score"} for r in lines[1]["results"])


def test_a_dash_for_the_query_reads_standard_input(cli_env, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("k922\n"))
    assert main(["search", "-", "--limit", "1"]) == 0
    assert json.loads(capsys.readouterr().out)["results"][0]["code"] == "K92.2"


def test_stdin_bad_line_reports_error_and_exit_status(cli_env, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("k922\n" + "x" * 600 + "\n"))
    assert main(["search"]) == 1
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert "error" in lines[1] and "limit" in lines[1]["error"]


def test_a_batch_line_without_letters_or_digits_gets_an_error_line_and_the_rest_are_answered(cli_env, capsys,
                                                                                               monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("!!!\nk922\n"))
    assert main(["search", "--limit", "1"]) == 1
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert "no letters (a-z) or digits" in lines[0]["error"] and lines[1]["results"][0]["code"] == "K92.2"


def test_stdin_json_object_lines_override_options_per_line(cli_env, capsys, monkeypatch):
    lines_in = ['{"q": "k922", "limit": 1}', '{"q": "gallbladder", "system": "icd10pcs", "limit": 2}',
                '{"q": "k922", "limit": "two"}', '{"query": "k922"}', '{"q": "k922"', '{"q": 3}']
    monkeypatch.setattr("sys.stdin", io.StringIO("\n".join(lines_in) + "\n"))
    assert main(["search", "--limit", "5"]) == 1
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert out[0]["query"] == "k922" and [r["code"] for r in out[0]["results"]] == ["K92.2"]
    assert 0 < len(out[1]["results"]) <= 2 and all(r["system"] == "icd10pcs" for r in out[1]["results"])
    assert "'limit' must be int" in out[2]["error"]
    assert "unknown: query" in out[3]["error"]
    assert "not valid JSON" in out[4]["error"] and '"q" string' in out[5]["error"]


def test_the_cli_reads_a_system_name_in_any_case_or_with_dashes(cli_env, capsys):
    assert main(["similar", "ICD-10-PCS", "0FT44ZZ", "--json", "--limit", "2"]) == 0
    assert json.loads(capsys.readouterr().out)["similar"]
    assert main(["search", "gallbladder", "--system", "ICD10PCS", "--json", "--limit", "3"]) == 0
    results = json.loads(capsys.readouterr().out)["results"]
    assert results and all(r["system"] == "icd10pcs" for r in results)


def test_a_cpt_shaped_query_that_finds_nothing_says_how_to_load_cpt(cli_env, capsys, monkeypatch):
    assert main(["search", "99213"]) == 0
    assert "CPT codes are not loaded" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO("99213\nk922\n"))
    assert main(["search", "--limit", "1"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert "--custom cpt=" in lines[0]["hint"] and "hint" not in lines[1]


def test_similar_json(cli_env, capsys):
    assert main(["similar", "icd10pcs", "0FT44ZZ", "--json", "--limit", "5"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert 0 < len(out["similar"]) <= 5 and all(s["code"] != "0FT44ZZ" for s in out["similar"])


@pytest.mark.parametrize("argv, message", [
    (["search", "heart", "--system", "snomed"], "unknown system"),
    (["search", "heart", "--limit", "0"], "limit"),
    (["similar", "icd10cm", "NOPE1"], "no code 'NOPE1' in icd10cm"),
    (["build", "--source", "icd10cm"], "NAME=PATH"),
    (["build", "--custom", "cpt=/no/such/file.csv"], "not found"),
])
def test_bad_arguments_exit_2_with_one_line(cli_env, capsys, argv, message):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err and "Traceback" not in err


def test_a_setting_out_of_range_exits_2_with_one_line(cli_env, capsys, monkeypatch):
    monkeypatch.setenv("MEDCODES_CANDIDATES", "-5")
    assert main(["search", "heart"]) == 2
    err = capsys.readouterr().err.strip()
    assert "MEDCODES_CANDIDATES=-5 is out of range" in err and "\n" not in err


def test_missing_index_is_a_clear_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MEDCODES_INDEX_DIR", str(tmp_path / "none"))
    monkeypatch.setenv("MEDCODES_ENCODER", "stub")
    assert main(["search", "heart"]) == 2
    assert "medcodes build" in capsys.readouterr().err
