"""The Litestar application: ``create_app(settings)``.

The engine (encoder, index, record store) is loaded once in the lifespan and
handed to handlers by dependency injection; handlers only translate HTTP to
engine calls. ``DocentError`` is translated to a JSON error in one place.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
from litestar import Litestar, Request, Response, delete, get, post
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.openapi import OpenAPIConfig
from litestar.params import FromPath, JSONBody
from litestar.response import Template
from litestar.static_files import create_static_files_router
from litestar.template import TemplateConfig

from corpus.errors import DocentError
from service.conversations import Conversation, ConversationSummary
from service.engine import Docent
from service.schemas import AskRequest, AskResponse, ErrorBody, Health, RecordDetail, SearchRequest, SearchResponse
from service.settings import Settings

WEB = Path(__file__).resolve().parent.parent / "web"
MAX_BODY_BYTES = 64 * 1024


def provide_docent(state: State) -> Docent:
    return state.docent


@post("/ask", status_code=200, sync_to_thread=True, summary="Answer a question with cited records")
def ask(data: JSONBody[AskRequest], docent: NamedDependency[Docent]) -> AskResponse:
    return docent.ask(data)


@post("/search", status_code=200, sync_to_thread=True, summary="Ranked records for a question, no answer")
def search(data: JSONBody[SearchRequest], docent: NamedDependency[Docent]) -> SearchResponse:
    return docent.search(data)


@get("/records/{record_id:str}", sync_to_thread=False, summary="One record as JSON")
def record(record_id: FromPath[str], docent: NamedDependency[Docent]) -> RecordDetail:
    return docent.record(record_id)


@get("/conversations", sync_to_thread=False, summary="Past conversations, most recent first")
def conversations(docent: NamedDependency[Docent]) -> list[ConversationSummary]:
    return docent.conversations.list()


@get("/conversations/{conversation_id:str}", sync_to_thread=False, summary="One conversation with all its turns")
def conversation(conversation_id: FromPath[str], docent: NamedDependency[Docent]) -> Conversation:
    return docent.conversations.get(conversation_id)


@delete("/conversations/{conversation_id:str}", sync_to_thread=False, summary="Delete a conversation")
def delete_conversation(conversation_id: FromPath[str], docent: NamedDependency[Docent]) -> None:
    docent.conversations.delete(conversation_id)


@get("/health", sync_to_thread=False)
def health(docent: NamedDependency[Docent]) -> Health:
    return Health(status="ok", records=docent.collection.count, model=docent.encoder.name)


@get("/", sync_to_thread=False, include_in_schema=False)
def index(docent: NamedDependency[Docent]) -> Template:
    return Template(template_name="index.html", context={"info": docent.info()})


def docent_error(request: Request, exc: DocentError) -> Response[ErrorBody]:
    return Response(ErrorBody(status_code=exc.status_code, detail=str(exc)), status_code=exc.status_code)


def create_app(settings: Settings) -> Litestar:
    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        app.state.docent = await anyio.to_thread.run_sync(lambda: Docent.open(settings, conversations=True))
        try:
            yield
        finally:
            app.state.docent.close()

    return Litestar(
        route_handlers=[ask, search, record, conversations, conversation, delete_conversation, health, index, create_static_files_router(path="/static", directories=[WEB / "static"])],
        dependencies={"docent": Provide(provide_docent, sync_to_thread=False)},
        exception_handlers={DocentError: docent_error},
        lifespan=[lifespan],
        template_config=TemplateConfig(directory=WEB / "templates", engine=JinjaTemplateEngine),
        openapi_config=OpenAPIConfig(title="archive-docent", version="0.1.0", path="/schema"),
        request_max_body_size=MAX_BODY_BYTES,
        state=State({"settings": settings}),
    )
