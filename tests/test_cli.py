"""The `docent` CLI run as a user runs it: a subprocess."""

import json
import os
import subprocess
import sys

import pytest

from service.schemas import AskResponse
from tests.conftest import ROOT, TINY

DOCENT = [sys.executable, "-m", "service.cli"]


def run(*args, data_dir, env=None, check=True):
    full_env = {**os.environ, "DOCENT_MODEL": "hashing", "DOCENT_MIN_SCORE": "0.15", "DOCENT_MIN_SUPPORT": "1.5", "DOCENT_DATA_DIR": str(data_dir), **(env or {})}
    result = subprocess.run([*DOCENT, *args], capture_output=True, text=True, env=full_env, cwd=ROOT, timeout=120)
    if check:
        assert result.returncode == 0, result.stderr
    return result


@pytest.fixture
def data_dir(tmp_path):
    run("ingest", str(TINY), "--quiet", data_dir=tmp_path / "data")
    return tmp_path / "data"


def test_ingest_reports_counts_and_reingest_reuses_vectors(tmp_path):
    first = run("ingest", str(TINY), "--quiet", data_dir=tmp_path)
    assert "read: 8 loaded, 0 skipped as invalid, 0 duplicates" in first.stderr
    assert "8 added" in first.stdout and "8 embedded" in first.stdout
    again = run("ingest", str(TINY), "--quiet", data_dir=tmp_path)
    assert "8 unchanged" in again.stdout and "0 embedded, 8 vectors reused" in again.stdout


def test_ask_prints_answer_and_sources(data_dir):
    out = run("ask", "Stalin letter to Pishevari about Soviet troops leaving Iran", data_dir=data_dir).stdout
    assert "[1]" in out and "Sources:" in out
    assert "May 8, 1946 (precision: day) — Letter from Joseph V. Stalin to Ja'far Pishevari" in out
    assert "Built from catalogue summaries" in out


def test_ask_json_matches_the_api_shape(data_dir):
    out = run("ask", "Kennan long telegram", "--json", "--k", "2", data_dir=data_dir).stdout
    body = json.loads(out)
    assert set(body) == set(AskResponse.__struct_fields__)
    assert body["conversation_id"] is None and body["interpretation"]["question"] == "Kennan long telegram"
    assert 1 <= len(body["sources"]) <= 2


def test_info_describes_the_index(data_dir):
    out = run("info", data_dir=data_dir).stdout
    assert "records:    8 (1 undated)" in out and "1946-02-22 to 1957-10-31" in out and "hashing" in out
    manifest = json.loads(run("info", "--json", data_dir=data_dir).stdout)
    assert manifest["record_count"] == 8


def test_data_dir_flag_overrides_environment(data_dir, tmp_path):
    out = run("info", "--data-dir", str(data_dir), data_dir=tmp_path / "elsewhere").stdout
    assert "records:    8" in out


@pytest.mark.parametrize(
    "args, message",
    [
        (["ingest", "missing.jsonl"], "missing.jsonl: no such file"),
        (["info"], "no index in"),
    ],
)
def test_errors_are_one_clear_line_without_traceback(tmp_path, args, message):
    env = {"DOCENT_SAMPLE_WHEN_EMPTY": "false"}
    result = run(*args, data_dir=tmp_path / "empty", env=env, check=False)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr
    assert result.stderr.strip().count("\n") == 0


def test_empty_question(data_dir):
    result = run("ask", "  ", data_dir=data_dir, check=False)
    assert result.returncode == 2 and result.stderr.strip() == "docent: error: question is empty"


def test_malformed_file_and_skip_invalid(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"title": "Fine", "date": "1950", "summary": "ok"}\n{"title": "Broken", "date": "Spring 1950"}\n')
    failed = run("ingest", str(bad), data_dir=tmp_path / "d", check=False)
    assert failed.returncode == 2 and f"{bad}, line 2, field 'date'" in failed.stderr
    assert not (tmp_path / "d" / "CURRENT").exists()
    ok = run("ingest", str(bad), "--skip-invalid", "--quiet", data_dir=tmp_path / "d")
    assert "1 loaded, 1 skipped as invalid" in ok.stderr and f"skipped: {bad}, line 2, field 'date'" in ok.stderr


def test_bad_setting_is_reported(tmp_path):
    result = run("info", data_dir=tmp_path, env={"DOCENT_PORT": "eighty"}, check=False)
    assert result.returncode == 2 and "DOCENT_PORT" in result.stderr


def test_unknown_model_path_is_reported(tmp_path):
    result = run("ingest", str(TINY), data_dir=tmp_path, env={"DOCENT_MODEL": str(tmp_path / "nomodel")}, check=False)
    assert result.returncode == 2 and "nor a local model directory" in result.stderr


@pytest.mark.parametrize("args", [["ask"], ["ingest", "x.jsonl", "--format", "xml"], ["bogus"], ["ask", "q", "--k", "five"]])
def test_bad_arguments_are_one_line(tmp_path, args):
    result = run(*args, data_dir=tmp_path, check=False)
    assert result.returncode == 2 and "--help" in result.stderr
    assert result.stderr.strip().count("\n") == 0 and "usage:" not in result.stderr
