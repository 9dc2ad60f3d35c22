"""Abstention: the support decision (service.abstention), /ask following it,
and the evaluation measuring the same decision."""

import dataclasses
from pathlib import Path

import pytest

from corpus.model import Record
from eval.abstention import fold_of, two_fold
from eval.retrieval import ConfigResult, run_config
from eval.suite import Query, Suite, load_suite
from service.abstention import DEPTH, Support, abstains, named_years, support, year_fit
from service.engine import Docent, answer_sources
from service.interpret import interpret
from service.retrieval import DATE_FIT, Candidate
from service.schemas import AskRequest
from tests.conftest import FIXTURES

DAY = {"precision": "day"}


def rec(rid, earliest=None, summary="Talks on the nuclear agency."):
    return Record(id=rid, title=f"Record {rid}", earliest=earliest, latest=earliest, summary=summary, **(DAY if earliest else {}))


def cand(pos, record, fused, cosine=0.8, fit=None):
    return Candidate(pos, record, cosine, fused, None, None, fit)


def test_named_years_are_those_the_date_constraint_does_not_hold():
    assert named_years(interpret("What were the terms of the 1991 agreement on nuclear materials?", None)) == ("1991",)
    # "in 1959" is the question's date constraint: retrieval has already scaled by it.
    assert named_years(interpret("What did Zhou Enlai discuss with Asanuma in 1959?", None)) == ()
    assert named_years(interpret("the 1972 communique after the 1971 contacts, and the 1972 talks", None)) == ("1972", "1971")
    # Decades, document numbers and years outside the collection's range are not years named.
    assert named_years(interpret("reports of the 1960s", None)) == ()
    assert named_years(interpret("telegram No. 060.1974 about 3000 troops", None)) == ()


def test_a_record_fits_a_named_year_by_its_date_or_by_naming_it():
    assert year_fit(rec("a", "1991-03-26"), ("1991",)) == "within"
    assert year_fit(rec("b", "1985-11-30"), ("1991",)) == "outside"
    # An account written later of "the 1956 revolt" answers a question about it.
    assert year_fit(rec("c", "1959-05-01", summary="Mao compares it with the 1956 revolt."), ("1956",)) == "within"
    assert year_fit(rec("d"), ("1991",)) == "undated"
    assert year_fit(Record(id="e", title="x", earliest="1990-01-01", latest="1991-12-31", precision="year"), ("1991",)) == "partial"


def test_support_is_the_best_fused_score_scaled_by_the_named_years():
    reading = interpret("What were the terms of the 1991 agreement creating a nuclear agency?", None)
    head = [cand(0, rec("1985", "1985-10-01"), 2.4), cand(1, rec("1991", "1991-07-18"), 1.5), cand(2, rec("undated"), 2.0)]
    found = support(head, reading)
    assert found.years == ("1991",)
    assert found.score == pytest.approx(max(2.4 * DATE_FIT["outside"], 1.5, 2.0 * DATE_FIT["undated"]))
    # Without a year named, the best fused score as retrieval ranked it.
    assert support(head, interpret("terms of the agreement creating a nuclear agency", None)).score == pytest.approx(2.4)


def test_support_looks_only_at_the_head_and_a_constraint_is_not_applied_twice():
    reading = interpret("What did Honecker agree in Pyongyang in October 1986?", None)
    tail = [cand(i, rec(f"r{i}", "1984-05-30"), 1.0, fit="outside") for i in range(DEPTH)] + [cand(DEPTH, rec("deep"), 3.0)]
    # Fused scores under a constraint already carry its date fit (service.retrieval).
    assert support(tail, reading) == Support(1.0)
    assert support([], reading) == Support(None)


def test_abstains_below_the_threshold_only():
    assert abstains(Support(1.80), 1.92) and abstains(Support(None), 1.92)
    assert not abstains(Support(1.92), 1.92) and not abstains(Support(2.3), 1.92)


def test_answer_sources_needs_support_and_a_citable_record(hashing_settings):
    reading = interpret("terms of the agreement creating a nuclear agency", None)
    head = [cand(0, rec("a", "1985-10-01"), 2.0, cosine=0.7), cand(1, rec("b", "1985-11-01"), 1.9, cosine=0.1)]
    settings = dataclasses.replace(hashing_settings, min_score=0.5, min_support=1.5)
    found, cited = answer_sources(head, reading, 5, settings)
    assert found.score == 2.0 and [c.pos for c in cited] == [0]
    assert answer_sources(head, reading, 5, dataclasses.replace(settings, min_support=2.1))[1] == []
    # Supported, but nothing reaches the cosine floor for citing: still no answer.
    assert answer_sources(head, reading, 5, dataclasses.replace(settings, min_score=0.8))[1] == []


@pytest.fixture
def docent(tiny_index):
    d = Docent.open(tiny_index)
    yield d
    d.close()


def test_ask_abstains_exactly_when_support_is_below_min_support(docent):
    question = "Kennan telegram explaining Soviet conduct"
    answered = docent.ask(AskRequest(question=question))
    score = answered.searched.support
    assert not answered.abstained and answered.sources and score is not None
    docent.settings = dataclasses.replace(docent.settings, min_support=round(score + 0.01, 4))
    refused = docent.ask(AskRequest(question=question))
    assert refused.abstained and refused.sources == [] and refused.searched.support == score
    assert f"The best match scored {score:.2f}, below the {score + 0.01:.2f} needed to answer" in refused.answer
    assert "all 8 records" in refused.answer


def test_ask_scores_a_named_year_the_collection_lacks_lower(docent):
    # Kennan's telegram is of 1946: asked about "the 1990 telegram", its support halves.
    right = docent.ask(AskRequest(question="Kennan's 1946 telegram explaining Soviet conduct")).searched.support
    wrong = docent.ask(AskRequest(question="Kennan's 1990 telegram explaining Soviet conduct")).searched.support
    assert wrong < 0.6 * right


def test_eval_measures_the_decision_ask_makes(docent):
    suite = load_suite(FIXTURES / "tiny-suite")
    # A threshold between the questions' supports, so that some answer and some abstain.
    supports = {q.id: docent.ask(AskRequest(question=q.text)).searched.support for q in suite.queries}
    middle = sorted(supports.values())[1] + 0.001
    docent.settings = dataclasses.replace(docent.settings, min_support=middle)
    result = run_config(docent, suite, "hybrid", progress=False)
    asked = {q.id: docent.ask(AskRequest(question=q.text)).abstained for q in suite.queries}
    assert result.abstained == asked and set(asked.values()) == {True, False}
    assert result.support == pytest.approx(supports, abs=1e-4)


def test_two_fold_calibrates_on_one_half_and_measures_the_other(hashing_settings):
    ids = [f"q{i}" for i in range(40)]
    folds = {i: fold_of(i) for i in ids}
    unanswerable = {i for i in ids[:16]}
    # Supports: unanswerable 1.0-1.15, answerable 2.0 and up, except one
    # answerable question of fold 1 that scores like an unanswerable one.
    odd = next(i for i in ids[16:] if folds[i] == 1)
    supports = {i: 1.0 + n / 100 if i in unanswerable else 2.0 + n / 100 for n, i in enumerate(ids)}
    supports[odd] = 1.05
    queries = [Query(i, f"question {i}", answerable=i not in unanswerable) for i in ids]
    suite = Suite(Path("synthetic"), "test", queries)
    reading = interpret("question", None)
    result = ConfigResult("hybrid", {}, [], {}, ranked={i: [cand(0, rec(i), supports[i])] for i in ids},
                          support=supports, readings={i: reading for i in ids})
    held_out_1 = next(r for r in two_fold(suite, result, hashing_settings) if r["fold"] == 1)
    # Fold 0 separates cleanly: its threshold lies between the two groups, and
    # on fold 1 abstains on every unanswerable question and on the odd one.
    assert 1.15 < held_out_1["min_support"] < 2.0
    assert held_out_1["abstained"] == held_out_1["unanswerable"] == sum(folds[i] == 1 for i in unanswerable)
    assert held_out_1["false_abstained"] == 1
    assert held_out_1["answerable"] == sum(folds[i] == 1 for i in ids) - held_out_1["unanswerable"]
