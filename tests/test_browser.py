"""The web chat in real headless Chromium (Debian's package, driven by Playwright).

One server for the module, on the bundled sample corpus plus a record whose
every field carries script payloads; the hashing encoder keeps answers fast.
"""

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from corpus.loaders import load_files
from embeddings.encoder import HashingEncoder
from embeddings.ingest import ingest
from eval.suite import load_suite
from tests.conftest import ARTIFACTS, ROOT, SAMPLE
from tests.server import running_server

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync"]
KOREA = "What did Stalin tell Mao about Kim Il Sung's plans in May 1950?"
NOTHING = "zzxq wobble quantum chromodynamics"

# Each payload would set window.__xss (or open a dialog) if it ever ran.
XSS_RECORD = {
    "id": "xss-probe",
    "title": "<script>window.__xss='title'; alert('title')</script>Zanzibar marmalade conference <img src=x onerror=\"window.__xss='title-img'\">",
    "date": "June 3, 1951",
    "summary": "Minutes of the Zanzibar marmalade conference, a purported record. <img src=x onerror=\"window.__xss='summary'; alert('summary')\"> "
               "<script>window.__xss='summary-script'</script>",
    "notes": ["<b onmouseover=\"window.__xss='note'\">Zanzibar</b> marmalade <svg onload=\"window.__xss='note-svg'\"></svg>"],
    "repository": "<img src=x onerror=\"window.__xss='repository'\">",
    "collection": "<script>window.__xss='collection'</script>",
    "source_url": "javascript:window.__xss='url'",
    "extra": {"archive_note": "<iframe src=\"javascript:parent.__xss='extra'\"></iframe>"},
}
XSS_QUESTION = "What was decided at the Zanzibar marmalade conference? <img src=x onerror=\"window.__xss='question'\">"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    base = tmp_path_factory.mktemp("browser")
    probe = base / "xss.jsonl"
    probe.write_text(json.dumps(XSS_RECORD) + "\n", encoding="utf-8")
    ingest(base / "data", load_files([SAMPLE, probe]).records, HashingEncoder())
    return base / "data"


@pytest.fixture(scope="module")
def server(data_dir):
    with running_server(data_dir, env={"DOCENT_MODEL": "hashing", "DOCENT_MIN_SCORE": "0.15", "DOCENT_MIN_SUPPORT": "1.5"}) as base:
        yield base


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.fail("Chromium is not installed at /usr/bin/chromium (make browser installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS, headless=True)
        yield browser
        browser.close()


def open_page(browser, server, width=1100, height=900):
    context = browser.new_context(viewport={"width": width, "height": height})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server)
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.errors, page.dialogs, page.requests, page.console_errors = [], [], [], []
    page.accept_dialogs = False
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.accept() if page.accept_dialogs else dialog.dismiss()))
    page.on("request", lambda request: page.requests.append(request.url))
    page.on("console", lambda msg: msg.type == "error" and page.console_errors.append(msg.text))
    return page


@pytest.fixture
def page(browser, server):
    page = open_page(browser, server)
    yield page
    page.context.close()
    assert page.errors == [], f"JavaScript errors: {page.errors}"


def ask(page, question, date_from="", date_to="", k=None):
    """Ask through the form; returns the new turn once its answer is rendered."""
    before = page.locator("#conversation article.turn:not(.pending)").count()
    page.get_by_label("Your question").fill(question)
    page.get_by_label("Dated from").fill(date_from)
    page.get_by_label("Dated to").fill(date_to)
    if k is not None:
        page.get_by_label("Sources", exact=True).fill(str(k))
    page.get_by_role("button", name="Ask").click()
    turn = page.locator("#conversation article.turn:not(.pending)").nth(before)
    turn.wait_for()
    return turn


def conversation_id(page):
    return page.evaluate("new URLSearchParams(location.search).get('c')")


def test_answer_shows_citations_caveat_badges_and_interpretation(server, page):
    page.goto(server + "/")
    turn = ask(page, KOREA)
    assert turn.locator("h2.question").inner_text() == KOREA
    cards = turn.locator("ol.sources > li.source")
    assert cards.count() == 5
    # Every [n] links to card n, and every card is cited; cards are in citation order.
    hrefs = set(turn.locator(".answer a.cite").evaluate_all("links => links.map(a => a.getAttribute('href'))"))
    ids = cards.evaluate_all("cards => cards.map(c => c.id)")
    assert hrefs == {"#" + i for i in ids}
    assert [int(n) for n in cards.evaluate_all("cards => cards.map(c => c.dataset.n)")] == [1, 2, 3, 4, 5]
    second = cards.nth(1)
    assert "April 1950" in second.locator(".when").inner_text() and "Precision: month only" in second.locator(".when").inner_text()
    assert "Editorial note:" in second.locator(".notes").inner_text()
    # One badge per caveat; its explanation shows on hover.
    badges = second.locator("button.badge")
    assert badges.all_inner_texts() == ["Month only", "Secondhand report", "Translation"]
    tip = page.locator("#" + badges.first.get_attribute("aria-describedby"))
    assert not tip.is_visible()
    badges.first.hover()
    assert tip.is_visible() and "only to the month" in tip.inner_text()
    # What was searched, discreetly.
    details = turn.locator("details.interpretation")
    assert not details.locator("dl").is_visible()
    details.locator("summary").click()
    assert "Searched for" in details.inner_text()
    assert "1950-05-01 to 1950-05-31, from the question" in details.inner_text()
    assert "(answers from 1.50;" in details.inner_text(), "the support abstention was decided on"
    # Everything came from this server: no CDN, fonts or scripts from elsewhere.
    assert page.requests and all(url.startswith(server) for url in page.requests)
    details.locator("summary").click()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "answered-page.png"), full_page=True)


def test_timeline_view_orders_sources_by_date(server, page):
    page.goto(server + "/")
    turn = ask(page, "Berlin blockade airlift")
    toggle = turn.get_by_role("button", name="Show on a timeline")
    toggle.click()
    assert toggle.get_attribute("aria-pressed") == "true"
    cards = turn.locator("ol.sources.timeline > li.source")
    earliest = cards.evaluate_all("cards => cards.map(c => c.dataset.earliest)")
    assert earliest == sorted(earliest)
    assert turn.locator(".timeline-axis a.mark").count() == cards.count()
    assert turn.locator("li.year-start").count() == len({e[:4] for e in earliest})
    toggle.click()
    assert turn.locator(".timeline-axis").is_hidden()
    order = [int(n) for n in turn.locator("li.source").evaluate_all("cards => cards.map(c => c.dataset.n)")]
    assert order == list(range(1, len(earliest) + 1))


def test_citation_leads_to_card_and_record_page_with_cite_button(server, page):
    page.goto(server + "/")
    turn = ask(page, KOREA)
    citation = turn.locator(".answer a.cite", has_text="[2]").first
    citation.click()
    card = turn.locator("li.source").nth(1)
    assert page.url.endswith(citation.get_attribute("href"))
    page.wait_for_function("document.activeElement && document.activeElement.id.endsWith('-source-2')")
    title = card.locator("a.title").inner_text()
    card.locator("a.title").click()
    page.wait_for_url("**/records/**")
    assert page.locator("h1").inner_text() == title
    body = page.locator("main").inner_text()
    for expected in ("April 1950", "Precision: month only (1950-04-01 – 1950-04-30)", "Korean War Origins", "Editorial notes", "Secondhand report"):
        assert expected in body
    note = page.locator("#note").inner_text()
    assert note.startswith(f"\u201c{title},\u201d April 1950, Korean War Origins, ") and note.endswith(page.url + ".")
    page.get_by_role("button", name="Cite").click()
    page.locator("#cite-status", has_text="Copied").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == note
    # Back leads to the conversation the reader came from.
    page.get_by_role("link", name="Back to the conversation").click()
    page.locator("article.turn").first.wait_for()
    assert conversation_id(page)


def test_date_filter_is_honoured(server, page):
    page.goto(server + "/")
    unfiltered = ask(page, "Stalin Mao Kim Il Sung Korea")
    spans = unfiltered.locator("li.source").evaluate_all("cards => cards.map(c => [c.dataset.earliest, c.dataset.latest])")
    assert any(latest < "1950-05-01" or earliest > "1950-05-31" for earliest, latest in spans)
    page.get_by_role("button", name="New conversation").click()
    filtered = ask(page, "Stalin Mao Kim Il Sung Korea", date_from="May 1950", date_to="May 1950")
    spans = filtered.locator("li.source").evaluate_all("cards => cards.map(c => [c.dataset.earliest, c.dataset.latest])")
    assert spans and all(earliest <= "1950-05-31" and latest >= "1950-05-01" for earliest, latest in spans)
    filtered.locator("details.interpretation summary").click()
    assert "1950-05-01 to 1950-05-31, from the date filter" in filtered.locator("details.interpretation").inner_text()
    # Fewer sources when asked for fewer.
    page.get_by_role("button", name="New conversation").click()
    assert ask(page, "Stalin Mao Kim Il Sung Korea", k=2).locator("li.source").count() == 2


def test_reload_keeps_the_conversation_and_follow_ups_carry_its_id(server, page):
    page.goto(server + "/")
    ask(page, KOREA)
    cid = conversation_id(page)
    assert cid
    with page.expect_request("**/ask") as sent:
        ask(page, "And in October?")
    assert json.loads(sent.value.post_data)["conversation_id"] == cid
    assert conversation_id(page) == cid
    page.reload()
    page.locator("article.turn").nth(1).wait_for()
    assert page.locator("article.turn h2.question").all_inner_texts() == [KOREA, "And in October?"]
    assert page.locator("article.turn").first.locator("li.source").count() == 5
    current = page.locator("#conversation-list a[aria-current='page']")
    assert current.inner_text() == KOREA
    assert "2 questions" in page.locator("#conversation-list li", has=page.locator("a[aria-current='page']")).inner_text()


def test_delete_a_conversation(server, page):
    page.goto(server + "/")
    ask(page, "Berlin blockade airlift")
    cid = conversation_id(page)
    item = page.locator("#conversation-list li", has=page.locator(f"a[href='/?c={cid}']"))
    item.wait_for()
    page.accept_dialogs = True
    item.get_by_role("button", name="Delete the conversation").click()
    item.wait_for(state="detached")
    assert page.dialogs and "cannot be undone" in page.dialogs[0]
    assert page.locator("article.turn").count() == 0 and conversation_id(page) is None
    assert page.evaluate("document.activeElement.id") == "new-conversation"
    assert httpx.get(f"{server}/conversations/{cid}").status_code == 404
    page.goto(f"{server}/?c={cid}")
    page.locator("#notice", has_text="no longer stored").wait_for()


def test_keyboard_only_ask_cite_and_caveat_explanation(server, page):
    page.goto(server + "/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "question"
    page.keyboard.type(KOREA)
    page.keyboard.press("Enter")
    page.locator("article.turn:not(.pending)").first.wait_for()
    assert page.evaluate("document.activeElement.id") == "question", "focus stays in the ask box for a follow-up"
    # Walk back from the ask box to a caveat badge: its explanation shows on focus, Escape hides it.
    for _ in range(80):
        page.keyboard.press("Shift+Tab")
        if page.evaluate("document.activeElement.classList.contains('badge')"):
            break
    tip = page.locator("#" + page.evaluate("document.activeElement.getAttribute('aria-describedby')"))
    assert tip.is_visible() and tip.inner_text()
    page.keyboard.press("Escape")
    assert not tip.is_visible()
    for _ in range(80):
        page.keyboard.press("Shift+Tab")
        if page.evaluate("document.activeElement.classList.contains('cite')"):
            break
    target = page.evaluate("document.activeElement.getAttribute('href')")
    page.keyboard.press("Enter")
    page.wait_for_function(f"document.activeElement.id === {target[1:]!r}")


def test_loading_state_errors_and_abstention(server, page):
    page.goto(server + "/")
    held = []
    page.route("**/ask", lambda route: held.append(route))
    page.get_by_label("Your question").fill(KOREA)
    page.get_by_role("button", name="Ask").click()
    page.locator("article.pending").wait_for()
    assert page.get_by_role("button", name="Asking…").is_disabled()
    assert "Searching 75 records" in page.locator("article.pending").inner_text()
    held[0].fulfill(status=500, body="Internal Server Error")
    error = page.get_by_role("alert")
    error.wait_for()
    assert "server failed" in error.inner_text() and "500" in error.inner_text()
    assert page.locator("article.pending").count() == 0 and page.get_by_role("button", name="Ask").is_enabled()
    assert page.get_by_label("Your question").input_value() == KOREA, "the question is kept to try again"
    page.unroute("**/ask")
    # A 4xx says what was wrong.
    page.evaluate("document.getElementById('question').removeAttribute('maxlength')")
    page.get_by_label("Your question").fill("x" * 1200)
    page.get_by_role("button", name="Ask").click()
    page.get_by_role("alert").filter(has_text="limit is 1000").wait_for()
    assert "HTTP 400" in error.inner_text()
    page.get_by_label("Dated from").fill("the spring")
    turn_count = page.locator("article.turn").count()
    page.get_by_label("Your question").fill(KOREA)
    page.get_by_role("button", name="Ask").click()
    page.get_by_role("alert").filter(has_text="date_from").wait_for()
    assert page.locator("article.turn").count() == turn_count
    # Nothing relevant: an answer that says so, not an error.
    page.get_by_label("Dated from").fill("")
    turn = ask(page, NOTHING)
    assert turn.get_attribute("class") == "turn abstained"
    assert turn.locator(".abstained-label").text_content() == "Not in this collection"
    assert "holds nothing relevant" in turn.locator(".answer").inner_text()
    assert turn.locator("li.source").count() == 0 and error.is_hidden()


def test_feedback_is_stored_restored_and_exported(server, page, data_dir, tmp_path):
    page.goto(server + "/")
    turn = ask(page, KOREA)
    cid = conversation_id(page)
    turn.get_by_role("button", name="Useful answer", exact=True).click()
    first, second = turn.locator("li.source").nth(0), turn.locator("li.source").nth(1)
    first.get_by_role("button", name="Relevant: source 1", exact=True).click()
    second.get_by_role("button", name="Not relevant: source 2").click()
    pressed = turn.locator("button.thumb[aria-pressed='true']")
    pressed.nth(2).wait_for()
    assert pressed.count() == 3
    first_id, second_id = first.get_attribute("data-record-id"), second.get_attribute("data-record-id")
    votes = httpx.get(f"{server}/feedback/{cid}").json()
    assert {(v["record_id"], v["vote"]) for v in votes} == {(None, 1), (first_id, 1), (second_id, -1)}
    page.reload()
    page.locator("article.turn button.thumb[aria-pressed='true']").nth(2).wait_for()
    assert page.locator("article.turn").first.get_by_role("button", name="Useful answer", exact=True).get_attribute("aria-pressed") == "true"
    out = tmp_path / "suite"
    done = subprocess.run(
        [sys.executable, "-m", "service.cli", "feedback", "export", str(out), "--data-dir", str(data_dir)],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    suite = load_suite(out)
    query = next(q for q in suite.queries if q.text == KOREA)
    assert suite.qrels[query.id] == {first_id: 2}


def test_phone_width_is_usable(server, browser):
    page = open_page(browser, server, width=390, height=844)
    try:
        page.goto(server + "/")
        turn = ask(page, KOREA)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, "no sideways scrolling"
        ask_box = page.get_by_label("Your question").bounding_box()
        assert ask_box["width"] >= 300
        badge = turn.locator("button.badge").first
        badge.click()  # a tap shows the explanation on a touch screen
        assert page.locator("#" + badge.get_attribute("aria-describedby")).is_visible()
        page.keyboard.press("Escape")
        page.screenshot(path=str(ARTIFACTS / "answered-page-phone.png"), full_page=True)
        assert page.errors == []
    finally:
        page.context.close()


def test_record_text_and_questions_never_execute(server, page):
    page.goto(server + "/")
    turn = ask(page, XSS_QUESTION)
    card = turn.locator("li.source", has=page.locator("a.title", has_text="Zanzibar"))
    assert card.count() == 1
    # The payloads are shown as text, and no element they describe exists.
    assert turn.locator("h2.question").inner_text() == XSS_QUESTION
    assert card.locator("a.title").inner_text() == XSS_RECORD["title"]
    assert "<img src=x onerror=" in card.locator(".summary").inner_text()
    card.locator("button.badge").first.hover()
    page.locator("#conversation-list a", has_text="Zanzibar").wait_for()
    check_nothing_ran(page, scripts=1)
    assert card.locator("a[href^='javascript']").count() == 0
    card.locator("a.title").click()
    page.wait_for_url("**/records/xss-probe")
    assert page.locator("h1").inner_text() == XSS_RECORD["title"]
    assert XSS_RECORD["source_url"] in page.locator("main").inner_text()
    page.get_by_role("button", name="Cite").click()
    page.locator("#cite-status", has_text="Copied").wait_for()
    check_nothing_ran(page, scripts=1)


def check_nothing_ran(page, scripts):
    page.wait_for_timeout(300)  # let any injected image fail to load and fire onerror
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert page.dialogs == []
    assert page.locator("img, iframe, b, svg[onload]").count() == 0
    assert page.locator("script").count() == scripts
    assert page.locator("a[href^='javascript']").count() == 0
    assert not [e for e in page.console_errors if "Content Security Policy" in e], "something tried to run and was blocked"
