"""Calibrating the abstention threshold, and checking that it generalises.

``calibrate`` picks ``Settings.min_support`` from a suite's answerable and
unanswerable questions; ``two_fold`` calibrates on one half of the questions
and measures on the other, which is what a threshold fitted to the very
questions it is scored on hides.
"""

from __future__ import annotations

import dataclasses
import hashlib

from eval.suite import Suite
from service.engine import answer_sources

# The most answerable questions a calibrated threshold may turn away.
MAX_FALSE_ABSTENTION = 0.05


def calibrate(answerable: list[float], unanswerable: list[float], max_false: float = MAX_FALSE_ABSTENTION) -> float | None:
    """The threshold that abstains on the most unanswerable questions while
    abstaining on at most ``max_false`` of the answerable ones, and among
    those on the fewest answerable ones; placed halfway between the two
    neighbouring scores. Spending the false-abstention budget only when it
    buys an abstention, and keeping the widest margin on both sides, is what
    holds up on new questions: a threshold pushed up against the lowest
    answerable score turned away 3 of 46 held-out answerable questions."""
    if not answerable or not unanswerable:
        return None
    allowed = int(max_false * len(answerable))  # answerable questions we may lose
    scores = sorted(set(answerable) | set(unanswerable))
    best: tuple[int, int] | None = None
    threshold = None
    # A threshold between two neighbouring scores (or below the lowest, from 0).
    for low, high in zip([0.0, *scores], scores):
        cut = (low + high) / 2
        lost = sum(a < cut for a in answerable)
        outcome = (sum(u < cut for u in unanswerable), -lost)
        if lost <= allowed and (best is None or outcome > best):
            best, threshold = outcome, round(cut, 4)
    return threshold


def fold_of(query_id: str) -> int:
    """The half of a suite a question belongs to: a hash of its id, so the
    split is fixed and independent of the questions' order or wording."""
    return int(hashlib.md5(query_id.encode()).hexdigest(), 16) % 2


def two_fold(suite: Suite, result, settings) -> list[dict]:
    """Per fold: the threshold calibrated on the *other* fold, and the
    abstentions /ask's decision (``answer_sources``) makes with it on this
    one. ``result`` is the default configuration's ``ConfigResult``."""
    rows = []
    for held_out in (0, 1):
        calibrated_on = [q for q in suite.queries if fold_of(q.id) != held_out]
        threshold = calibrate(
            [result.support[q.id] for q in calibrated_on if q.answerable],
            [result.support[q.id] for q in calibrated_on if not q.answerable],
        )
        rows.append({"fold": held_out, "min_support": threshold, **_measured(suite, result, settings, held_out, threshold)})
    return rows


def _measured(suite: Suite, result, settings, fold: int, threshold: float | None) -> dict:
    if threshold is None:
        return {}
    applied = dataclasses.replace(settings, min_support=threshold)
    abstained = {q.id: not answer_sources(result.ranked[q.id], result.readings[q.id], settings.default_k, applied)[1] for q in suite.queries if fold_of(q.id) == fold}
    answerable = [q.id for q in suite.answerable if q.id in abstained]
    unanswerable = [q.id for q in suite.unanswerable if q.id in abstained]
    return {
        "abstained": sum(abstained[i] for i in unanswerable),
        "unanswerable": len(unanswerable),
        "false_abstained": sum(abstained[i] for i in answerable),
        "answerable": len(answerable),
    }


def two_fold_text(rows: list[dict]) -> str:
    lines = ["Two-fold abstention check (questions split by md5(query id) % 2; threshold calibrated on the other fold):"]
    for row in rows:
        if "abstained" not in row:
            lines.append(f"  fold {row['fold']}: nothing to calibrate on (the other fold needs answerable and unanswerable questions)")
            continue
        lines.append(
            f"  fold {row['fold']}: min_support {row['min_support']} → abstained on {row['abstained']} of {row['unanswerable']} unanswerable, "
            f"{row['false_abstained']} of {row['answerable']} answerable"
        )
    return "\n".join(lines)
