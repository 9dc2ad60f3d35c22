"""Readers' votes: POST /feedback, the SQLite store, and `docent feedback export`."""

import json

import pytest
from litestar.testing import TestClient

from eval.suite import load_suite
from service.app import create_app
from service.cli import main
from service.feedback import ANSWER, FEEDBACK, JudgedTurn, build_suite, export_suite

QUESTION = "Filippov Stalin Mao Korean reunification telegram"


@pytest.fixture
def client(tiny_index):
    with TestClient(app=create_app(tiny_index)) as client:
        yield client


def asked(client, question=QUESTION, **extra):
    body = client.post("/ask", json={"question": question, **extra}).json()
    assert body["sources"], body["answer"]
    return body


def vote(client, cid, turn=1, record_id=None, value=1):
    payload = {"conversation_id": cid, "turn": turn, "vote": value}
    if record_id is not None:
        payload["record_id"] = record_id
    return client.post("/feedback", json=payload)


def turn(votes, sources=("a", "b", "c"), abstained=False, question="q", date_from=None, date_to=None, n=1):
    return JudgedTurn("c1", n, question, date_from, date_to, abstained, list(sources), votes)


# --- the rules that turn votes into relevance grades ---------------------------

def test_upvoted_source_scores_2_with_an_upvoted_answer_else_1():
    assert turn({ANSWER: 1, "a": 1, "b": -1}).grades() == {"a": 2}
    assert turn({"a": 1, "c": 1}).grades() == {"a": 1, "c": 1}
    assert turn({ANSWER: -1, "b": 1}).grades() == {"b": 1}


def test_upvoted_answer_without_source_votes_endorses_its_sources():
    assert turn({ANSWER: 1}).grades() == {"a": 1, "b": 1, "c": 1}
    assert turn({ANSWER: 1, "c": -1}).grades() == {}, "once sources are voted on, only their votes count"


def test_abstentions_and_unexplained_downvotes():
    queries, needs = build_suite([
        turn({ANSWER: 1}, sources=(), abstained=True, question="price of wheat in Ohio"),
        turn({ANSWER: -1}, question="a bad answer", n=2),
        turn({ANSWER: -1}, sources=(), abstained=True, question="it should have answered", n=3),
        turn({}, question="no votes at all", n=4),
    ])
    assert [(q.text, q.unanswerable) for q in queries] == [("price of wheat in Ohio", True)]
    assert [n["question"] for n in needs] == ["a bad answer", "it should have answered"]


def test_same_question_merges_by_maximum_and_relevance_beats_abstention():
    queries, _ = build_suite([
        turn({"a": 1}, question="Who  met Mao?"),
        turn({ANSWER: 1, "a": 1, "b": 1}, question="who met mao?", n=2),
        turn({ANSWER: 1}, sources=(), abstained=True, question="Who met Mao?", n=3),
        turn({"a": 1}, question="Who met Mao?", date_from="1950-01-01", date_to="1950-12-31", n=4),
    ])
    assert len(queries) == 2
    merged, dated = queries
    assert merged.grades == {"a": 2, "b": 2} and not merged.unanswerable
    assert dated.grades == {"a": 1} and dated.id != merged.id


# --- the HTTP API ----------------------------------------------------------------

def test_votes_are_stored_replaced_and_listed(client, tiny_index):
    body = asked(client)
    cid, first = body["conversation_id"], body["sources"][0]["id"]
    assert vote(client, cid).json() == {"conversation_id": cid, "turn": 1, "record_id": None, "vote": 1}
    assert vote(client, cid, record_id=first, value=1).status_code == 200
    assert vote(client, cid, record_id=first, value=-1).status_code == 200
    assert client.get(f"/feedback/{cid}").json() == [
        {"conversation_id": cid, "turn": 1, "record_id": None, "vote": 1},
        {"conversation_id": cid, "turn": 1, "record_id": first, "vote": -1},
    ]
    assert (tiny_index.data_dir / FEEDBACK).is_file()
    assert client.get("/feedback/unknown").json() == []


@pytest.mark.parametrize(
    "payload, status, fragment",
    [
        ({"turn": 1, "vote": 2}, 400, "vote"),
        ({"turn": 0, "vote": 1}, 400, "turn"),
        ({"turn": 1, "vote": 1, "stars": 5}, 400, "stars"),
        ({"turn": 1}, 400, "vote"),
        ({"turn": 7, "vote": 1}, 404, "has no turn 7"),
        ({"turn": 1, "vote": 1, "record_id": "t-not-cited"}, 404, "is not a source of turn 1"),
    ],
)
def test_invalid_votes_are_refused(client, payload, status, fragment):
    cid = asked(client)["conversation_id"]
    response = client.post("/feedback", json={"conversation_id": cid, **payload})
    assert response.status_code == status
    assert fragment in json.dumps(response.json())


def test_a_vote_needs_an_existing_conversation(client):
    response = vote(client, "no-such-conversation")
    assert response.status_code == 404 and "no conversation" in response.json()["detail"]


# --- export ----------------------------------------------------------------------

def test_export_writes_a_suite_that_loads(client, tiny_index, tmp_path):
    body = asked(client)
    cid, sources = body["conversation_id"], [s["id"] for s in body["sources"]]
    vote(client, cid)
    vote(client, cid, record_id=sources[0])
    # A follow-up stands alone in the suite: the topic it was completed with, and its dates.
    follow = asked(client, "And in 1950?", conversation_id=cid)
    vote(client, cid, turn=2, record_id=follow["sources"][0]["id"])
    # An explicit date filter travels with the query; dates in the question stay in its words.
    dated = asked(client, "Filippov Stalin Mao Korean reunification", date_from="1950", date_to="1950")
    vote(client, dated["conversation_id"], record_id=dated["sources"][0]["id"])
    nothing = client.post("/ask", json={"question": "zzxq wobble quantum chromodynamics"}).json()
    vote(client, nothing["conversation_id"])
    bad = asked(client, "Kennan telegram on Soviet conduct")
    vote(client, bad["conversation_id"], value=-1)
    # Judgements outlive the conversation they were made in.
    assert client.delete(f"/conversations/{bad['conversation_id']}").status_code == 204

    report = export_suite(tiny_index.data_dir / FEEDBACK, tmp_path / "suite")
    suite = load_suite(tmp_path / "suite")
    by_text = {q.text: q for q in suite.queries if not (q.text == QUESTION and q.date_from)}
    assert suite.qrels[by_text[QUESTION].id] == {sources[0]: 2}
    assert by_text["Filippov Stalin Mao Korean reunification"].date_from == "1950-01-01" and by_text["Filippov Stalin Mao Korean reunification"].date_to == "1950-12-31"
    assert by_text["zzxq wobble quantum chromodynamics"].answerable is False
    dated_follow_up = next(q for q in suite.queries if q.text == QUESTION and q.date_from)
    assert (dated_follow_up.date_from, dated_follow_up.date_to) == ("1950-01-01", "1950-12-31")
    assert suite.qrels[dated_follow_up.id] == {follow["sources"][0]["id"]: 1}
    needs = [json.loads(line) for line in (tmp_path / "suite" / "needs-judging.jsonl").read_text().splitlines()]
    assert [n["question"] for n in needs] == ["Kennan telegram on Soviet conduct"]
    assert report.needs_judging == 1 and report.unanswerable == 1 and report.queries == len(suite.queries)
    header = (tmp_path / "suite" / "qrels" / "test.tsv").read_text().splitlines()[0]
    assert header == "query-id\tcorpus-id\tscore"


def test_cli_export(tiny_index, tmp_path, capsys):
    data_dir = str(tiny_index.data_dir)
    assert main(["feedback", "export", str(tmp_path / "empty"), "--data-dir", data_dir]) == 2
    assert "no feedback yet" in capsys.readouterr().err
    with TestClient(app=create_app(tiny_index)) as client:
        body = asked(client)
        vote(client, body["conversation_id"], value=-1)
        assert main(["feedback", "export", str(tmp_path / "none"), "--data-dir", data_dir]) == 2
        assert "makes no suite yet" in capsys.readouterr().err
        vote(client, body["conversation_id"], record_id=body["sources"][0]["id"])
        assert main(["feedback", "export", str(tmp_path / "suite"), "--data-dir", data_dir]) == 0
    assert "1 query (1 answerable, 0 unanswerable)" in capsys.readouterr().out
    assert len(load_suite(tmp_path / "suite").queries) == 1
