"""The benchmark's verdicts and report are computed from the right passes.
Figures here are made up; no timing is measured."""

from bench.run import TARGET, targets
from bench.summary import markdown


def phases(total: float) -> dict:
    ms = {"p50": total, "p95": total, "p99": total * 1.2}
    return {"total": ms, "encode": dict(ms), "search": dict(ms), "compose": dict(ms)}


def scale(alone_total: float | None) -> dict:
    out = {
        "records": 100_000, "index_type": "ivf", "disk_bytes_per_record": 4500, "recall": {"recall@10_k10": 0.98},
        "cold_start": {"open_index_s": 0.02, "first_search_s": 0.003, "load_model_s": 3.5},
        # The side-by-side pass: the service at 1.6x the encode.
        "ask": {"question_encode": {"p50": 10.0, "p95": 11.0, "p99": 12.0}, "plain": phases(15.0), "batching": phases(15.5), "service": phases(16.0)},
        "throughput": {v: {"1": {"answers_per_s": 40.0}, "16": {"answers_per_s": 100.0}} for v in ("serial", "batching", "service")},
    }
    if alone_total is not None:
        # Each variant alone, beside its own reference encode.
        out["ask_alone"] = {
            "service": {"question_encode": {"p50": 10.0, "p95": 11.0, "p99": 12.0}, "service": phases(alone_total)},
            "plain": {"question_encode": {"p50": 12.0, "p95": 13.0, "p99": 14.0}, "plain": phases(16.8)},
        }
    return out


def verdict(report: dict, what: str) -> dict:
    return next(row for row in targets(report, TARGET) if row["what"] == what)


def test_latency_targets_read_each_variant_alone_over_its_own_reference_encode():
    report = {"scales": {"100,000": scale(alone_total=14.0)}}
    p50 = verdict(report, "100,000: /ask p50 / question encode")
    assert (p50["value"], p50["ok"]) == (1.4, True)
    assert verdict(report, "100,000: /ask p99 / question encode")["value"] == round(14.0 * 1.2 / 10.0, 2)
    # service 1.4x its encode, plain 16.8 / 12.0 = 1.4x its own: no growth.
    assert verdict(report, "100,000: single-client p50 service / plain")["value"] == 1.0


def test_a_report_without_the_alone_pass_is_read_from_the_side_by_side_one():
    report = {"scales": {"100,000": scale(alone_total=None)}}
    p50 = verdict(report, "100,000: /ask p50 / question encode")
    assert (p50["value"], p50["ok"]) == (1.6, False)
    assert verdict(report, "100,000: single-client p50 service / plain")["value"] == round(16.0 / 15.0, 3)


def test_the_markdown_report_shows_both_passes():
    machine = {"cpu": "test cpu", "cores": 2, "memory_gib": 1.0, "kernel": "k", "python": "3.11", "versions": {},
               "load_average_at_start": (0.5, 0, 0), "load_average_at_end": (0.5, 0, 0)}
    report = {"command": "python -m bench.run", "started_at": "now", "machine": machine, "scales": {"100,000": scale(alone_total=14.0)}}
    text = markdown(report)
    assert "each variant alone" in text and "the variants side by side" in text
    assert "| `service` total | 14.0 / 14.0 / 16.8 |" in text
    assert "| question encode (bare encoder), beside `plain` | 12.0 / 13.0 / 14.0 |" in text
