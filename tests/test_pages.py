"""HTML pages without a browser: content negotiation on /records/{id}, escaping,
the Chicago note, security headers, and guards on the page's own code."""

import json
import re

import msgspec
import pytest
from litestar.testing import TestClient

from corpus.loaders import load_files
from embeddings.encoder import HashingEncoder
from embeddings.ingest import ingest
from service.app import WEB, create_app
from service.pages import chicago_note, web_url
from service.schemas import RecordDetail
from tests.conftest import TINY

BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"
PAYLOAD = {
    "id": "payload",
    "title": "<script>alert(1)</script> Report",
    "date": "",
    "summary": "<img src=x onerror=alert(2)> summary",
    "notes": ["<b>note</b>"],
    "source_url": "javascript:alert(3)",
    "extra": {"<i>key</i>": "<u>value</u>"},
}


@pytest.fixture
def client(hashing_settings, tmp_path):
    probe = tmp_path / "payload.jsonl"
    probe.write_text(json.dumps(PAYLOAD) + "\n", encoding="utf-8")
    ingest(hashing_settings.data_dir, load_files([TINY, probe]).records, HashingEncoder())
    with TestClient(app=create_app(hashing_settings)) as client:
        yield client


@pytest.mark.parametrize("accept", [None, "application/json", "*/*", "application/json, text/html;q=0.5", "text/html;q=0.5, */*"])
def test_api_clients_keep_the_json_record(client, accept):
    headers = {"Accept": accept} if accept else {}
    response = client.get("/records/t-pishevari", headers=headers)
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["date"] == "May 8, 1946" and body["translation"] == "Translated from Russian"
    assert set(body) == set(msgspec.structs.asdict(RecordDetail(id="x", title="x")))


def test_browsers_get_the_record_page(client):
    response = client.get("/records/t-pishevari", headers={"Accept": BROWSER_ACCEPT})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["vary"] == "Accept"
    page = response.text
    for expected in ("<h1 id=\"record-title\">Letter from Joseph V. Stalin to Ja&#39;far Pishevari</h1>", "May 8, 1946",
                     "Precision: exact day", "Translated from Russian", "Caveats", "id=\"cite-button\"", "/static/record.js"):
        assert expected in page
    note = re.search(r'<p id="note" class="note-text">(.*?)</p>', page).group(1)
    assert note.startswith("\u201cLetter from Joseph V. Stalin to Ja&#39;far Pishevari,\u201d May 8, 1946, ")
    assert note.endswith("http://testserver.local/records/t-pishevari.")


def test_record_page_escapes_everything(client):
    page = client.get("/records/payload", headers={"Accept": BROWSER_ACCEPT}).text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "&lt;img src=x onerror=alert(2)&gt;" in page
    assert "&lt;b&gt;note&lt;/b&gt;" in page and "&lt;i&gt;key&lt;/i&gt;" in page and "&lt;u&gt;value&lt;/u&gt;" in page
    assert "<script>alert" not in page and "<img" not in page and 'href="javascript' not in page
    assert re.findall(r"<script[^>]*>", page) == ['<script src="/static/record.js" defer>']


def test_missing_record_is_a_page_for_browsers_and_json_for_clients(client):
    page = client.get("/records/nope", headers={"Accept": BROWSER_ACCEPT})
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert "no record with id &#39;nope&#39;" in page.text
    api = client.get("/records/nope")
    assert api.status_code == 404 and api.json()["detail"] == "no record with id 'nope' in this collection"


def test_chat_page_is_self_contained(client):
    response = client.get("/", headers={"Accept": BROWSER_ACCEPT})
    page = response.text
    assert response.status_code == 200 and "default-src 'none'" in response.headers["content-security-policy"]
    assert 'data-max-k="50"' in page and 'value="5"' in page and 'maxlength="1000"' in page
    # Nothing from elsewhere: every src and href is this site's own.
    refs = re.findall(r'(?:src|href)="([^"]*)"', page)
    assert refs and all(ref.startswith(("/", "#")) for ref in refs), refs
    for label in ("Your question", "Dated from", "Dated to", "Sources"):
        assert re.search(rf'<label for="[\w-]+">{label}</label>', page), label


def test_chicago_note():
    record = RecordDetail(id="r", title="Was  it a Plan?", date="", collection="Korean War", repository="", source_url="https://example.org/r")
    assert chicago_note(record, "http://x/records/r") == "\u201cWas it a Plan?\u201d n.d., Korean War, https://example.org/r."
    unsafe = RecordDetail(id="r", title="Memo", date="May 1950", source_url="javascript:alert(1)")
    assert chicago_note(unsafe, "http://x/records/r") == "\u201cMemo,\u201d May 1950, http://x/records/r."
    assert web_url("HTTPS://a.b/c") and not web_url(" javascript:x") and not web_url("data:text/html,x") and not web_url("")


def test_page_code_never_writes_html_from_data():
    """The safety rules the browser test checks, kept visible in review: no HTML
    sinks in the scripts, no |safe in the templates, no external assets."""
    scripts = "".join(p.read_text() for p in (WEB / "static").glob("*.js"))
    assert not re.search(r"\.(?:inner|outer)HTML\b|insertAdjacentHTML|document\.write|\beval\(|new Function|\.html\(", scripts)
    templates = "".join(p.read_text() for p in (WEB / "templates").glob("*.html"))
    assert "|safe" not in templates.replace(" ", "") and "autoescape false" not in templates
    assert not re.search(r"https?://", templates + scripts + (WEB / "static" / "app.css").read_text())
