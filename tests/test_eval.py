"""The retrieval evaluation: suite parsing, metrics, reports and the gate."""

import json
import math
import os
import subprocess
import sys

import pytest

from corpus.errors import InvalidInputError
from eval.report import check
from eval.abstention import calibrate
from eval.retrieval import ConfigResult, measure
from eval.suite import load_suite, read_trec_run, write_trec_run
from tests.conftest import FIXTURES, ROOT, TINY

SUITE = FIXTURES / "tiny-suite"


def result(name, run, abstained=None):
    return ConfigResult(name, run, [1.0, 2.0, 3.0, 4.0], abstained or {"q1": False, "q2": False, "q3": False, "q4": True})


def test_metrics_match_hand_computation():
    suite = load_suite(SUITE)
    run = {
        "q1": {"t-long-telegram": 3.0, "x": 2.0},          # answer at rank 1
        "q2": {"x": 3.0, "y": 2.0, "t-pishevari": 1.0},   # answer at rank 3
        "q3": {"t-roshchin-1949": 3.0, "z": 2.0},         # only the grade-1 record, at rank 1; answer missing
    }
    fig = measure(suite, [result("h", run)], "h")["h"]["metrics"]
    # nDCG@10 with exponential gain? ranx uses gain = rel (Järvelin) by default: DCG = sum rel_i / log2(i+1).
    q1 = 1.0
    q2 = (2 / math.log2(4)) / 2
    q3 = (1 / math.log2(2)) / (2 / math.log2(2) + 1 / math.log2(3))
    assert fig["ndcg@10"] == pytest.approx(round((q1 + q2 + q3) / 3, 4), abs=1e-4)
    assert fig["recall@1"] == pytest.approx(round((1 + 0 + 0.5) / 3, 4), abs=1e-4)
    assert fig["recall@5"] == pytest.approx(round((1 + 1 + 0.5) / 3, 4), abs=1e-4)
    assert fig["mrr@10"] == pytest.approx(round((1 + 1 / 3 + 1) / 3, 4), abs=1e-4)
    assert fig["hit_rate@5-l2"] == pytest.approx(round(2 / 3, 4), abs=1e-4)
    assert fig["map"] == pytest.approx(round((1 + 1 / 3 + 0.5) / 3, 4), abs=1e-4)


def test_abstention_rates_and_significance():
    suite = load_suite(SUITE)
    good = {"q1": {"t-long-telegram": 1.0}, "q2": {"t-pishevari": 1.0}, "q3": {"t-filippov-may": 1.0}}
    bad = {"q1": {"x": 1.0}, "q2": {"y": 1.0}, "q3": {"z": 1.0}}
    figures = measure(suite, [result("good", good), result("bad", bad, {"q1": True, "q2": False, "q3": False, "q4": False})], "good")
    assert figures["good"]["abstention"] == {"unanswerable": 1, "abstention_rate": 1.0, "false_abstention_rate": 0.0, "calibrated_min_support": None}
    assert figures["bad"]["abstention"]["abstention_rate"] == 0.0
    assert figures["bad"]["abstention"]["false_abstention_rate"] == pytest.approx(1 / 3, abs=1e-4)
    assert "p_value_vs_default" in figures["bad"] and "p_value_vs_default" not in figures["good"]


def test_calibration_abstains_most_within_the_false_abstention_budget():
    answerable = [round(0.40 + i / 100, 2) for i in range(40)]  # 0.40 .. 0.79
    unanswerable = [0.20, 0.30, 0.415, 0.45, 0.60]
    # 5 % of 40 = 2 answerable questions may be lost; losing 0.40 and 0.41 buys
    # the abstention on 0.415, and the threshold sits midway to the next score.
    threshold = calibrate(answerable, unanswerable)
    assert threshold == pytest.approx((0.415 + 0.42) / 2)
    assert sum(a < threshold for a in answerable) == 2
    assert sum(u < threshold for u in unanswerable) == 3
    assert calibrate(answerable, []) is None


def test_calibration_spends_no_false_abstentions_that_buy_nothing():
    answerable = [0.50, 0.52, 0.55, 0.60] + [0.7] * 36
    unanswerable = [0.20, 0.30]
    # Two answerable questions could be lost, but abstaining on both
    # unanswerable ones needs none of them: the threshold is mid-gap.
    assert calibrate(answerable, unanswerable) == pytest.approx(0.40)


def test_gate_flags_figures_below_minimum():
    figures = {"hybrid": {"metrics": {"ndcg@10": 0.70, "recall@100": 0.99}, "abstention": {"abstention_rate": 0.5, "false_abstention_rate": 0.1}}}
    assert check(figures, "hybrid", {"ndcg@10": 0.70, "recall@100": 0.98}) == []
    problems = check(figures, "hybrid", {"ndcg@10": 0.85, "max_false_abstention_rate": 0.05, "abstention_rate": 0.9, "nope": 1})
    assert len(problems) == 4
    assert problems[0] == "ndcg@10 = 0.7000 is below the minimum 0.85"


@pytest.mark.parametrize(
    "queries, qrels, message",
    [
        ('{"_id": "q1", "text": "a"}\n{"_id": "q2"}\n', "query-id\tcorpus-id\tscore\nq1\td\t2\n", "queries.jsonl, line 2: field 'text'"),
        ('{"_id": "q1", "text": "a"}\nnot json\n', "query-id\tcorpus-id\tscore\nq1\td\t2\n", "queries.jsonl, line 2: not valid JSON"),
        ('{"_id": "q1", "text": "a"}\n', "query-id\tcorpus-id\tscore\nq1\td\n", "test.tsv, line 2: expected 3 tab-separated cells"),
        ('{"_id": "q1", "text": "a"}\n', "query-id\tcorpus-id\tscore\nq1\td\thigh\n", "test.tsv, line 2: score 'high'"),
        ('{"_id": "q1", "text": "a"}\n', "query-id\tcorpus-id\tscore\nq9\td\t2\n", "query ids not in queries.jsonl: q9"),
        ('{"_id": "q1", "text": "a", "date_from": "May 1950"}\n', "query-id\tcorpus-id\tscore\nq1\td\t2\n", "line 1: field 'date_from' must be an ISO date"),
        ('{"_id": "q1", "text": "a"}\n{"_id": "q2", "text": "b"}\n', "query-id\tcorpus-id\tscore\nq1\td\t2\n", "'q2' is answerable but has no relevant record"),
    ],
)
def test_broken_suites_are_reported_with_the_line(tmp_path, queries, qrels, message):
    (tmp_path / "qrels").mkdir()
    (tmp_path / "queries.jsonl").write_text(queries)
    (tmp_path / "qrels" / "test.tsv").write_text(qrels)
    with pytest.raises(InvalidInputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_suite(tmp_path)


def test_trec_run_roundtrip(tmp_path):
    run = {"q1": {"a": 2.0, "b": 1.5}, "q2": {"c": 0.25}}
    path = tmp_path / "run.trec"
    write_trec_run(path, run, "hybrid")
    assert path.read_text().splitlines()[0] == "q1 Q0 a 1 2.000000 hybrid"
    assert read_trec_run(path) == run


def run_cli(*args, tmp_path):
    env = {**os.environ, "DOCENT_MODEL": "hashing", "DOCENT_MIN_SCORE": "0.15", "DOCENT_MIN_SUPPORT": "1.5", "XDG_CACHE_HOME": str(tmp_path / "cache"), "DOCENT_DATA_DIR": str(tmp_path / "data")}
    return subprocess.run([sys.executable, "-m", "service.cli", "eval", *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)


def test_eval_cli_table_reports_and_gate(tmp_path):
    out = run_cli(str(SUITE), "--records", str(TINY), "--quiet", "--show-failures", "--report", str(tmp_path / "rep"), tmp_path=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "3 answerable, 1 unanswerable questions" in out.stdout
    for config in ("hybrid (default)", "dense", "lexical"):
        assert f"| {config} |" in out.stdout
    report = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert report["about"]["model"] == "hashing" and len(report["about"]["corpus_checksum"]) == 64
    assert set(report["figures"]) == {"hybrid", "dense", "lexical"}
    assert (tmp_path / "rep" / "report.md").read_text().startswith("# Retrieval evaluation")
    # The gate: minimums nobody can reach fail; reachable ones pass.
    high = tmp_path / "high.toml"
    high.write_text('[suites.tiny-suite]\n"ndcg@10" = 1.01\n')
    failed = run_cli(str(SUITE), "--records", str(TINY), "--quiet", "--config", "hybrid", "--check", "--thresholds", str(high), tmp_path=tmp_path)
    assert failed.returncode == 1 and "CHECK FAILED" in failed.stdout and "ndcg@10" in failed.stdout
    low = tmp_path / "low.toml"
    low.write_text('[suites.tiny-suite]\n"ndcg@10" = 0.1\nmax_false_abstention_rate = 0.5\n')
    passed = run_cli(str(SUITE), "--records", str(TINY), "--quiet", "--config", "hybrid", "--check", "--thresholds", str(low), tmp_path=tmp_path)
    assert passed.returncode == 0 and "check passed" in passed.stdout


def test_eval_cli_errors(tmp_path):
    out = run_cli(str(tmp_path), "--records", str(TINY), tmp_path=tmp_path)
    assert out.returncode == 2 and "is not a suite" in out.stderr and "Traceback" not in out.stderr
