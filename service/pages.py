"""HTML pages for browsers: the chat page, record pages and error pages.

``GET /records/{id}`` serves one URL to both audiences: HTML when the client
prefers ``text/html`` (a browser following a citation), the JSON
``RecordDetail`` otherwise, so API clients that send no Accept header,
``*/*`` or ``application/json`` get exactly the JSON they always had.

Every page is rendered by Jinja2 with autoescaping and served with a
Content-Security-Policy that allows only this site's own scripts and styles:
record text comes from outside, and escaping is the first defence, not the only one.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from litestar import Request, Response, get
from litestar.di import NamedDependency
from litestar.enums import MediaType

from corpus.errors import DocentError
from service.security import public_message
from service.engine import Docent
from service.schemas import RecordDetail

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
# Said in words on the page; the codes are the date parser's (corpus/dates.py).
PRECISION = {
    "day": "exact day",
    "month": "month only",
    "year": "year only",
    "decade": "decade only",
    "range": "a date range",
    "undated": "undated",
}


def wants_html(request: Request) -> bool:
    if not request.headers.get("accept"):
        return False
    return request.accept.best_match(["application/json", "text/html"], default="application/json") == "text/html"


def render(request: Request, template: str, status_code: int = 200, **context) -> Response:
    html = request.app.template_engine.get_template(template).render(**context)
    return Response(html, media_type=MediaType.HTML, status_code=status_code, headers={**SECURITY_HEADERS, "Vary": "Accept"})


def web_url(url: str | None) -> str | None:
    """The URL if it is safe to link (http or https): a record's ``source_url`` is
    outside text, and a ``javascript:`` link would run on click."""
    return url if url and urlsplit(url.strip()).scheme.lower() in ("http", "https") else None


def chicago_note(record: RecordDetail, page_url: str) -> str:
    """A Chicago-style note: "Title," date, Collection, Repository, URL.
    Undated records get "n.d."; with no catalogue URL the record page stands in."""
    title = " ".join(record.title.split())
    quoted = f"\u201c{title}\u201d" if title.endswith(("?", "!")) else f"\u201c{title},\u201d"
    parts = [record.date or "n.d.", record.collection, record.repository, web_url(record.source_url) or page_url]
    return f"{quoted} {', '.join(p.strip() for p in parts if p and p.strip())}."


def record_response(request: Request, record: RecordDetail) -> Response[RecordDetail]:
    if not wants_html(request):
        return Response(record, headers={"Vary": "Accept"})
    page_url = str(request.url.with_replacements(query="", fragment=""))
    return render(
        request, "record.html", record=record, note=chicago_note(record, page_url),
        precision=PRECISION.get(record.precision, record.precision), source_link=web_url(record.source_url),
    )


def error_response(request: Request, exc: DocentError) -> Response | None:
    """An error page for a browser that asked for a page; None means answer JSON."""
    if request.method != "GET" or not wants_html(request):
        return None
    return render(request, "error.html", status_code=exc.status_code, status=exc.status_code, message=public_message(request, exc))


def chat_context(docent: Docent) -> dict:
    settings = docent.settings
    return {"info": docent.info(), "default_k": settings.default_k, "max_k": settings.max_k_ask, "max_chars": settings.max_question_chars}


@get("/", sync_to_thread=False, include_in_schema=False)
def index(request: Request, docent: NamedDependency[Docent]) -> Response:
    return render(request, "index.html", **chat_context(docent))
