"""Retrieval behaviour on small hand-made collections (hashing encoder)."""

import numpy as np
import pytest
from litestar.testing import TestClient

from corpus.model import Record
from embeddings.collection import Collection
from embeddings.encoder import HashingEncoder
from embeddings.ingest import ingest
from service.app import create_app
from service.engine import Docent, select_sources
from service.retrieval import Candidate, date_fit
from service.schemas import AskRequest, SearchRequest
from service.settings import Settings

TOPIC = "Soviet telegram about Korean reunification plans"


def rec(rid, date, earliest, latest, precision, title=TOPIC, summary="Telegram on Korean reunification plans and Kim Il Sung."):
    return Record(id=rid, title=title, date=date, earliest=earliest, latest=latest, precision=precision, summary=summary)


@pytest.fixture
def docent(tmp_path):
    records = [
        rec("year-1950", "1950", "1950-01-01", "1950-12-31", "year"),
        rec("may-1950", "May 14, 1950", "1950-05-14", "1950-05-14", "day"),
        rec("undated", "", None, None, "undated"),
        rec("june-1951", "June 1, 1951", "1951-06-01", "1951-06-01", "day"),
        Record(id="filippov", title="Ciphered Telegram, Filippov to Mao Zedong", summary="A cable signed with a code name about the Chinese volunteers."),
        Record(id="unrelated", title="Report on grain deliveries", summary="Harvest figures for Ukraine."),
    ]
    settings = Settings.load(env={}, data_dir=tmp_path, model="hashing", sample_when_empty=False, min_score=0.25, min_support=1.5)
    ingest(tmp_path, records, HashingEncoder())
    d = Docent.open(settings, HashingEncoder(), conversations=True)
    yield d
    d.close()


def ids(response):
    return [r.id for r in response.results]


def test_question_dates_rank_exact_period_first_and_keep_undated(docent):
    found = ids(docent.search(SearchRequest(question=f"{TOPIC} in May 1950", k=6)))
    assert found.index("may-1950") < found.index("year-1950") < found.index("undated")
    # A question's dates rank, they do not filter: the 1951 record is still findable, below.
    assert "june-1951" in found and found.index("june-1951") > found.index("undated")


def test_request_dates_filter_with_overlap_semantics(docent):
    response = docent.search(SearchRequest(question=TOPIC, k=6, date_from="1950-05-01", date_to="1950-05-31"))
    found = ids(response)
    assert "june-1951" not in found
    assert found[:2] == ["may-1950", "year-1950"] and "undated" in found
    assert (response.interpretation.date_from, response.interpretation.date_source) == ("1950-05-01", "request")


def test_request_dates_accept_catalogue_forms_and_reject_nonsense(docent):
    reading = docent.search(SearchRequest(question=TOPIC, date_from="May 1950", date_to="1950")).interpretation
    assert (reading.date_from, reading.date_to) == ("1950-05-01", "1950-12-31")
    with pytest.raises(Exception, match="date_from: 'Spring' is not a date form"):
        docent.search(SearchRequest(question=TOPIC, date_from="Spring"))
    with pytest.raises(Exception, match="is after date_to"):
        docent.search(SearchRequest(question=TOPIC, date_from="1951", date_to="1950"))


def test_alias_expansion_finds_code_name_records(docent):
    response = docent.search(SearchRequest(question="What did Stalin cable to Mao about the volunteers?", k=3))
    assert ids(response)[0] == "filippov"
    assert response.interpretation.aliases[0].name == "Stalin"


def test_date_fit_categories():
    assert date_fit("1950-05-14", "1950-05-14", "1950-05-01", "1950-05-31") == "within"
    assert date_fit("1950-01-01", "1950-12-31", "1950-05-01", "1950-05-31") == "partial"
    assert date_fit(None, None, "1950-05-01", "1950-05-31") == "undated"
    assert date_fit("1951-06-01", "1951-06-01", "1950-05-01", "1950-05-31") == "outside"
    assert date_fit("1951-06-01", "1951-06-01", "1951-01-01", None) == "within"


def test_select_sources_keeps_the_cosine_floor_and_collapses_near_duplicates():
    vectors = np.eye(4, dtype=np.float32)
    vectors[1] = vectors[0]
    r = Record(id="x", title="x")
    cands = [Candidate(pos, r, cos, 0.0, None, None, fit) for pos, cos, fit in [(0, 0.9, None), (1, 0.9, None), (2, 0.6, None), (3, 0.2, None)]]
    assert [c.pos for c in select_sources(cands, 5, 0.5, vectors)] == [0, 2]
    assert select_sources(cands, 5, 0.95, vectors) == []


def test_follow_up_conversation_over_http_survives_restart(tmp_path):
    settings = Settings.load(env={}, data_dir=tmp_path / "d", model="hashing", min_score=0.1, min_support=1.5)
    with TestClient(app=create_app(settings)) as client:
        first = client.post("/ask", json={"question": "What did Stalin tell Mao about Kim Il Sung's plans in May 1950?"}).json()
        cid = first["conversation_id"]
        assert cid and first["interpretation"]["date_source"] == "question"
        second = client.post("/ask", json={"question": "What did he answer?", "conversation_id": cid}).json()
        assert second["conversation_id"] == cid
        assert second["interpretation"]["context"] == first["question"]
        assert second["interpretation"]["date_from"] == "1950-05-01"
        assert client.post("/ask", json={"question": "x y", "conversation_id": "nope"}).status_code == 404
    with TestClient(app=create_app(settings)) as client:  # a restarted service
        listed = client.get("/conversations").json()
        assert [c["id"] for c in listed] == [cid] and listed[0]["turns"] == 2
        third = client.post("/ask", json={"question": "And in 1951?", "conversation_id": cid}).json()
        assert "Kim Il Sung" in third["interpretation"]["query"] and third["interpretation"]["date_from"] == "1951-01-01"
        history = client.get(f"/conversations/{cid}").json()["history"]
        assert [t["question"] for t in history] == [first["question"], "What did he answer?", "And in 1951?"]
        assert client.delete(f"/conversations/{cid}").status_code == 204
        assert client.get(f"/conversations/{cid}").status_code == 404
        assert client.get("/conversations").json() == []


def test_abstention_says_what_was_searched(docent):
    response = docent.ask(AskRequest(question="zzxq wobble quantum chromodynamics", date_from="May 1950", date_to="May 1950"))
    assert response.abstained and response.sources == []
    assert "all 6 records" in response.answer and "1950-05-01 to 1950-05-31" in response.answer
