"""Access and hostile input at the HTTP boundary: each test fails if its protection is removed."""

import json

import pytest
from litestar.testing import TestClient

from service.app import create_app
from service.settings import Settings
from tests.conftest import TINY


def client_for(tiny_index, **overrides):
    settings = Settings.load(env={}, data_dir=tiny_index.data_dir, model="hashing", sample_when_empty=False, min_score=0.15, min_support=1.5, **overrides)
    return TestClient(app=create_app(settings))


def test_rate_limit_answers_429_with_retry_after(tiny_index):
    with client_for(tiny_index, rate_limit_per_minute=3) as client:
        codes = [client.post("/ask", json={"question": "Kennan telegram"}).status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        limited = client.post("/search", json={"question": "Kennan"})
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) > 0
        assert "retry after" in limited.json()["detail"]
        assert client.get("/health").status_code == 200  # only questions are limited


def test_admin_endpoints_are_off_without_a_key_and_need_it_with_one(tiny_index):
    body = {"files": [str(TINY)]}
    with client_for(tiny_index) as client:
        off = client.post("/admin/reindex", json=body)
        assert off.status_code == 403 and "admin endpoints are off" in off.json()["detail"]
    with client_for(tiny_index, admin_api_key="s3cret-key") as client:
        assert client.post("/admin/reindex", json=body).status_code == 401
        assert client.post("/admin/reindex", json=body, headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert client.delete("/admin/records/t-sputnik", headers={"X-API-Key": "nope"}).status_code == 401


def test_cors_is_off_unless_configured(tiny_index):
    origin = {"Origin": "https://example.org"}
    with client_for(tiny_index) as client:
        assert "access-control-allow-origin" not in client.get("/health", headers=origin).headers
    with client_for(tiny_index, cors_origins="https://example.org") as client:
        assert client.get("/health", headers=origin).headers["access-control-allow-origin"] == "https://example.org"


@pytest.mark.parametrize(
    "content, content_type, status",
    [
        (b"\xff\xfe not utf-8", "application/json", 400),
        (b"{\"question\": ", "application/json", 400),
        (json.dumps({"question": "x" * 70_000}).encode(), "application/json", 413),
        (b"question=Stalin", "application/x-www-form-urlencoded", 400),
    ],
)
def test_malformed_bodies_are_4xx_without_internals(tiny_index, content, content_type, status):
    with client_for(tiny_index) as client:
        response = client.post("/ask", content=content, headers={"content-type": content_type})
        assert response.status_code == status
        assert "Traceback" not in response.text and "/work/" not in response.text and ".py" not in response.text


def test_server_errors_do_not_reveal_paths(tiny_index, caplog):
    with client_for(tiny_index) as client:
        client.app.state.docent.collection.store.close()  # a broken store: every question now fails inside
        response = client.post("/ask", json={"question": "Kennan telegram"})
        assert response.status_code >= 500
        assert str(tiny_index.data_dir) not in response.text and "Traceback" not in response.text


def test_hostile_question_is_inert_json(tiny_index):
    payload = "<script>alert(1)</script><img src=x onerror=alert(2)>"
    with client_for(tiny_index) as client:
        response = client.post("/ask", json={"question": payload})
        assert response.headers["content-type"].startswith("application/json")
        assert response.json()["question"] == payload  # data, returned as data
