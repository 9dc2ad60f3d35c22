"""Run retrieval configurations over a suite and measure them with ranx.

Each configuration is a retrieval mode of the service (``hybrid`` is what
/ask and /search use). All configurations run over the same index and
queries in one process, so their figures and latencies are comparable.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from tqdm import tqdm

from eval.abstention import calibrate
from eval.peers import txtai_retrieve
from eval.suite import Suite
from service.engine import ASK_CANDIDATES, Docent, answer_sources
from service.interpret import Interpretation
from service.retrieval import MODES, Candidate

METRICS = ["ndcg@10", "recall@1", "recall@5", "recall@10", "recall@100", "mrr@10", "map", "hit_rate@5-l2"]
DEPTH = 100
DEFAULT_CONFIG = "hybrid"

# name -> how to retrieve for one query. The service's own modes come first;
# other systems can register here for side-by-side comparison.
CONFIGS: dict[str, Callable[[Docent, str, int], list[Candidate]]] = {
    mode: (lambda docent, text, k, mode=mode: docent.retriever.retrieve(docent.interpret(text), k, mode=mode)) for mode in MODES
}
CONFIGS["txtai"] = txtai_retrieve
# Run when no --config is given: the service and its two single-list baselines.
# "rrf" (the earlier reciprocal rank fusion) and peers with costly set-up run on request.
DEFAULT_CONFIGS = ["hybrid", "dense", "lexical"]


@dataclass
class ConfigResult:
    name: str
    run: dict[str, dict[str, float]]
    latencies_ms: list[float]
    abstained: dict[str, bool]
    ranked: dict[str, list[Candidate]] = field(repr=False, default_factory=dict)
    # The support each question's abstention was decided on (service.abstention),
    # and the question as read: for the default configuration only, the one /ask uses.
    support: dict[str, float] = field(default_factory=dict)
    readings: dict[str, Interpretation] = field(repr=False, default_factory=dict)

    def latency(self, q: float) -> float:
        values = sorted(self.latencies_ms)
        if not values:
            return 0.0
        index = min(len(values) - 1, max(0, round(q * (len(values) - 1))))
        return values[index]


def run_config(docent: Docent, suite: Suite, name: str, progress: bool = True) -> ConfigResult:
    retrieve = CONFIGS[name]
    result = ConfigResult(name, {}, [], {})
    depth = max(DEPTH, ASK_CANDIDATES)
    retrieve(docent, suite.queries[0].text, 1)  # warm-up: one-off set-up is not per-query latency
    for query in tqdm(suite.queries, desc=f"{name:>8}", unit="q", disable=not progress, leave=False):
        started = time.perf_counter()
        candidates = retrieve(docent, query.text, depth)
        result.latencies_ms.append((time.perf_counter() - started) * 1000)
        result.ranked[query.id] = candidates
        if name == DEFAULT_CONFIG:
            # The decision /ask makes; its threshold is on this mode's score scale.
            reading = result.readings[query.id] = docent.interpret(query.text)
            found, cited = answer_sources(candidates, reading, docent.settings.default_k, docent.settings)
            result.abstained[query.id] = not cited
            result.support[query.id] = found.score or 0.0
        # ranx ranks by score; scores from reciprocal rank so ties cannot reorder the list.
        result.run[query.id] = {c.record.id: float(DEPTH - i) for i, c in enumerate(candidates[:DEPTH])}
    return result


@dataclass
class Failure:
    query_id: str
    text: str
    answer_ids: list[str]
    rank: int | None  # best rank of an answering record; None = not in the top 100
    above: list[tuple[str, str, str]]  # (id, date, title) of what ranked above it (top 10 at most)


def failures(suite: Suite, result: ConfigResult) -> list[Failure]:
    found: list[Failure] = []
    for query in suite.answerable:
        answers = [doc for doc, grade in suite.qrels.get(query.id, {}).items() if grade >= 2] or list(suite.qrels.get(query.id, {}))
        ids = [c.record.id for c in result.ranked[query.id]]
        ranks = [ids.index(a) + 1 for a in answers if a in ids]
        best = min(ranks) if ranks else None
        if best is None or best > 10:
            above = [(c.record.id, c.record.date or "undated", c.record.title) for c in result.ranked[query.id][:10]]
            found.append(Failure(query.id, query.text, answers, best, above))
    return found


def measure(suite: Suite, results: list[ConfigResult], default: str) -> dict:
    """Metrics per configuration, paired t-test p-values against ``default``,
    latency percentiles, and abstention rates."""
    # Imported here: ranx pulls in numba (~2 s), which every `docent` command
    # would otherwise pay for when the CLI builds its `eval` subcommand.
    from ranx import Qrels, Run, compare, evaluate

    judged = {q.id: docs for q in suite.answerable for docs in [suite.qrels[q.id]]}
    qrels = Qrels.from_dict(judged)
    runs = []
    for result in results:
        # Every judged query appears in every run, even with no results, so means are over the same queries.
        runs.append(Run.from_dict({qid: result.run.get(qid) or {"__none__": 0.0} for qid in judged}, name=result.name))
    figures: dict[str, dict] = {}
    for result, run in zip(results, runs):
        scores = evaluate(qrels, run, METRICS, make_comparable=True)
        answerable = [q.id for q in suite.answerable]
        unanswerable = [q.id for q in suite.unanswerable]
        figures[result.name] = {
            "metrics": {m: round(float(v), 4) for m, v in scores.items()},
            "latency_ms": {
                "p50": round(result.latency(0.5), 2),
                "p95": round(result.latency(0.95), 2),
                "mean": round(statistics.fmean(result.latencies_ms), 2) if result.latencies_ms else 0.0,
            },
            "abstention": {
                "unanswerable": len(unanswerable),
                "abstention_rate": _rate(result.abstained, unanswerable),
                "false_abstention_rate": _rate(result.abstained, answerable),
                "calibrated_min_support": calibrate(
                    [result.support[i] for i in answerable], [result.support[i] for i in unanswerable]
                )
                if result.support
                else None,
            },
        }
    if len(runs) > 1 and default in figures:
        report = compare(qrels, runs, METRICS, stat_test="student", max_p=0.05, make_comparable=True).to_dict()
        for name in figures:
            if name != default:
                figures[name]["p_value_vs_default"] = {
                    m: round(float(report[name]["comparisons"][default][m]), 4) for m in METRICS
                }
    return figures


def _rate(flags: dict[str, bool], ids: list[str]) -> float | None:
    return round(sum(flags[i] for i in ids) / len(ids), 4) if ids and flags else None
