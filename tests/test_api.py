"""The HTTP API through Litestar's test client (hashing encoder, fast)."""

import re

import pytest
from litestar.testing import TestClient

from service.app import create_app


@pytest.fixture
def client(tiny_index):
    with TestClient(app=create_app(tiny_index)) as client:
        yield client


@pytest.fixture
def sample_client(sample_settings):
    with TestClient(app=create_app(sample_settings)) as client:
        yield client


def assert_cited_answer(body):
    assert body["abstained"] is False and body["sources"]
    cited = {int(n) for n in re.findall(r"\[(\d+)\]", body["answer"])}
    assert cited == {s["n"] for s in body["sources"]}, "every source is cited and every citation has a source"
    assert [s["n"] for s in body["sources"]] == list(range(1, len(body["sources"]) + 1))
    for line in body["answer"].splitlines()[1:-1]:
        assert re.search(r"\[\d+\]$", line), f"uncited statement: {line}"
    assert "catalogue summaries, not the documents' full texts" in body["answer"]


def test_ask_on_the_bundled_sample_corpus(sample_client):
    response = sample_client.post("/ask", json={"question": "What did Stalin tell Mao about Kim Il Sung's plans in May 1950?"})
    assert response.status_code == 200
    body = response.json()
    assert_cited_answer(body)
    assert body["searched"]["records"] >= 60
    first = body["sources"][0]
    assert set(first) >= {"n", "id", "title", "date", "earliest", "latest", "precision", "summary", "notes", "url", "score"}


def test_ask_answer_cites_records_in_date_order(client):
    body = client.post("/ask", json={"question": "Filippov Stalin Mao Korean reunification telegram", "k": 3}).json()
    assert_cited_answer(body)
    assert len(body["sources"]) <= 3
    dates = [s["earliest"] for s in body["sources"] if s["earliest"]]
    assert dates == sorted(dates)
    assert any(s["id"] == "t-filippov-may" for s in body["sources"])
    line = next(l for l in body["answer"].splitlines() if "Filippov" in l)
    assert line.startswith("- May 14, 1950: Ciphered Telegram, Filippov [Stalin] to Mao Zedong.")


def test_abstains_plainly_when_nothing_is_relevant(client):
    body = client.post("/ask", json={"question": "zzxq wobble quantum chromodynamics"}).json()
    assert body["abstained"] is True and body["sources"] == []
    assert "holds nothing relevant" in body["answer"] and "8 records" in body["answer"]
    assert body["searched"] == {"records": 8, "earliest": "1946-02-22", "latest": "1957-10-31", "undated": 1, "date_from": None, "date_to": None,
                                "best_score": body["searched"]["best_score"], "min_score": 0.15,
                                "support": body["searched"]["support"], "min_support": 1.5}
    assert body["searched"]["support"] < 1.5 and "below the 1.50 needed to answer" in body["answer"]


def test_search_ranks_records(client):
    body = client.post("/search", json={"question": "Kennan telegram on Soviet conduct", "k": 8}).json()
    results = body["results"]
    assert [r["rank"] for r in results] == list(range(1, 9))
    assert results[0]["id"] == "t-long-telegram"


def test_record_health_and_schema(client):
    record = client.get("/records/t-pishevari").json()
    assert record["date"] == "May 8, 1946" and record["translation"] == "Translated from Russian"
    missing = client.get("/records/nope")
    assert missing.status_code == 404 and "no record with id 'nope'" in missing.json()["detail"]
    assert client.get("/health").json() == {"status": "ok", "records": 8, "model": "hashing"}
    schema = client.get("/schema/openapi.json").json()
    assert {"/ask", "/search", "/records/{record_id}", "/health"} <= set(schema["paths"])


@pytest.mark.parametrize(
    "body, fragment",
    [
        ({}, "question"),
        ({"question": ""}, "question"),
        ({"question": "   "}, "question is empty"),
        ({"question": "x" * 1001}, "limit is 1000"),
        ({"question": "Stalin", "k": 0}, "k"),
        ({"question": "Stalin", "k": 51}, "between 1 and 50"),
        ({"question": "Stalin", "k": "five"}, "k"),
        ({"question": 42}, "question"),
        ({"question": "Stalin", "colour": "red"}, "colour"),
    ],
)
def test_bad_ask_input_is_a_400_saying_what_is_wrong(client, body, fragment):
    response = client.post("/ask", json=body)
    assert response.status_code == 400
    assert fragment in response.text


def test_search_k_limit_and_non_json(client):
    assert client.post("/search", json={"question": "Stalin", "k": 1000}).status_code == 200
    assert "between 1 and 1000" in client.post("/search", json={"question": "Stalin", "k": 1001}).text
    response = client.post("/ask", content=b"not json", headers={"content-type": "application/json"})
    assert response.status_code == 400


def test_chat_page_is_served(client):
    page = client.get("/")
    assert page.status_code == 200 and "8 catalogue records" in page.text
    assert client.get("/static/app.js").status_code == 200
