"""Whether the collection can answer a question at all ("nothing relevant").

The cosine similarity of the best record cannot tell "about the same
people" from "answers this question": the unanswerable questions that got
through it asked about people the collection covers, at a time or event it
does not (Honecker in Pyongyang in 1986 when the collection has 1984; the
1991 Brazil-Argentina agreement when it has the 1985 talks). What does tell
them apart is whether the records that match the question's words also fit
the question's period.

The signal, ``support``: the best second-stage score (``Candidate.fused``:
cosine, BM25, coverage of the question's words, feedback from the best
records; service.rerank) among the top candidates, each scaled by how its
date fits the period the question names:

- under a date constraint the fused score already carries that scaling
  (service.retrieval.DATE_FIT: a record outside the period counts half);
- a year the question names but that is not read as a constraint ("the 1991
  Brazil-Argentina agreement", "the 1973 abduction") does not rank records,
  because a record about an event is often dated later than it; but a
  record that answers such a question is dated in that year or names it in
  its text, so here one that does neither is scaled like a record outside
  the period.

One interpretable number with one threshold (``Settings.min_support``),
calibrated by ``docent eval`` on a suite's unanswerable questions
(docs/retrieval.md). It costs a regular expression over ten records.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from corpus.model import Record
from service.interpret import Interpretation
from service.retrieval import DATE_FIT, Candidate, date_fit

# The head of the ranking the decision looks at: the scaling by named years
# can lift a record from a few places down, never from the tail.
DEPTH = 10
# A year of the collection's range written as a number: not part of a longer
# number ("No. 060.076"), not a decade ("the 1960s", which the question
# reader turns into a constraint when it is one).
YEAR = re.compile(r"(?<![\d.])(1[89]\d\d|20\d\d)(?![\d]|s\b)")
# Fits in order of preference, when a question names several years.
_ORDER = ("within", "partial", "undated", "outside")


@dataclass(frozen=True)
class Support:
    """How well the best candidates support an answer, and which named years
    (outside the date constraint) were checked to get it."""

    score: float | None
    years: tuple[str, ...] = ()


def named_years(interpretation: Interpretation) -> tuple[str, ...]:
    """Years the question names that are not already its date constraint
    (with a constraint, retrieval has scaled every score by it)."""
    if interpretation.date_from or interpretation.date_to:
        return ()
    return tuple(dict.fromkeys(YEAR.findall(interpretation.query)))


def year_fit(record: Record, years: tuple[str, ...]) -> str:
    """How a record fits the named years: "within" when its text names one
    (an account of "the 1956 revolt" written in 1959 answers a question
    about it), else the best fit of its dates to any of the years."""
    text = f"{record.title} {record.summary} {' '.join(record.notes)}"
    if set(YEAR.findall(text)) & set(years):
        return "within"
    fits = {date_fit(record.earliest, record.latest, f"{y}-01-01", f"{y}-12-31") for y in years}
    return next(fit for fit in _ORDER if fit in fits)


def support(candidates: list[Candidate], interpretation: Interpretation) -> Support:
    """The best fused score among the top candidates, scaled by how each fits
    the years the question names (None with no candidates)."""
    years = named_years(interpretation)
    head = candidates[:DEPTH]
    if not years:
        return Support(max((c.fused for c in head), default=None))
    return Support(max((c.fused * DATE_FIT[year_fit(c.record, years)] for c in head), default=None), years)


def abstains(found: Support, min_support: float) -> bool:
    """True when the collection does not support an answer."""
    return found.score is None or found.score < min_support
