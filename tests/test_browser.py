"""The chat page in real headless Chromium (Debian's package, driven by Playwright)."""

from pathlib import Path

import pytest

from tests.conftest import ARTIFACTS
from tests.server import running_server

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("browser") / "data"
    with running_server(data_dir, env={"DOCENT_MODEL": "hashing", "DOCENT_MIN_SCORE": "0.15"}) as base:
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


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert errors == [], f"JavaScript errors: {errors}"


def test_ask_in_the_browser_shows_cited_answer(server, page):
    page.goto(server + "/")
    page.get_by_label("Your question").fill("What did Stalin tell Mao about Kim Il Sung's plans in May 1950?")
    page.get_by_role("button", name="Ask").click()
    turn = page.locator("article.turn").first
    turn.wait_for()
    assert "Kim Il Sung" in turn.locator(".question").inner_text()
    citations = turn.locator(".answer a.cite")
    assert citations.count() >= 1
    sources = turn.locator("ol.sources > li")
    cited = set(citations.evaluate_all("links => links.map(a => a.getAttribute('href'))"))
    assert len(cited) == sources.count()
    assert "precision:" in sources.first.inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "answered-page.png"), full_page=True)
    # A citation link leads to its source card.
    first = citations.first
    target = first.get_attribute("href")
    first.click()
    assert page.url.endswith(target)


def test_keyboard_only_and_error_display(server, page):
    page.goto(server + "/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "question"
    page.keyboard.type("   ")
    page.keyboard.press("Enter")
    assert "Type a question first" in page.locator("#status").inner_text()
    page.evaluate("document.getElementById('question').removeAttribute('maxlength')")
    page.locator("#question").fill("x" * 1200)
    page.keyboard.press("Enter")
    page.locator("#status.error").wait_for()
    assert "limit is 1000" in page.locator("#status").inner_text()
