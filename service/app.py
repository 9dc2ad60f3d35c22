"""The Litestar application: ``create_app(settings)``.

The engine (encoder, index, record store) is loaded once in the lifespan and
handed to handlers by dependency injection; handlers only translate HTTP to
engine calls. ``DocentError`` is translated to a JSON error in one place.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
from litestar import Litestar, Request, Response, delete, get, post
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.datastructures import State
from litestar.exceptions import TooManyRequestsException
from litestar.di import NamedDependency, Provide
from litestar.openapi import OpenAPIConfig
from litestar.params import FromPath, JSONBody
from litestar.static_files import create_static_files_router
from litestar.template import TemplateConfig

from corpus.errors import DocentError
from embeddings.batching import serving_encoder
from embeddings.encoder import Encoder
from service.admin import admin_router
from service.conversations import Conversation, ConversationSummary
from service.engine import Docent
from service.feedback import FEEDBACK, FeedbackStore
from service.pages import error_response, index, record_response
from service import schemas
from service.schemas import errors
from service.schemas import AskRequest, AskResponse, Feedback, Health, RecordDetail, SearchRequest, SearchResponse
from service.security import cors, rate_limit, too_many_requests
from service.security import docent_error as api_error
from service.settings import Settings

log = logging.getLogger("docent")
WEB = Path(__file__).resolve().parent.parent / "web"
MAX_BODY_BYTES = 64 * 1024


def provide_docent(state: State) -> Docent:
    return state.docent


def provide_feedback(state: State) -> FeedbackStore:
    return state.feedback


@post("/ask", status_code=200, sync_to_thread=True, summary="Answer a question with cited records", responses=errors(404, 413, 429))
def ask(data: JSONBody[AskRequest], docent: NamedDependency[Docent]) -> AskResponse:
    return docent.ask(data)


@post("/search", status_code=200, sync_to_thread=True, summary="Ranked records for a question, no answer", responses=errors(413, 429))
def search(data: JSONBody[SearchRequest], docent: NamedDependency[Docent]) -> SearchResponse:
    return docent.search(data)


@get("/records/{record_id:str}", sync_to_thread=False, summary="One record as JSON (an HTML page for clients that prefer text/html)", responses=errors(404))
def record(record_id: FromPath[str], request: Request, docent: NamedDependency[Docent]) -> Response[RecordDetail]:
    return record_response(request, docent.record(record_id))


@get("/conversations", sync_to_thread=False, summary="Past conversations, most recent first")
def conversations(docent: NamedDependency[Docent]) -> list[ConversationSummary]:
    return docent.conversations.list()


@get("/conversations/{conversation_id:str}", sync_to_thread=False, summary="One conversation with all its turns", responses=errors(404))
def conversation(conversation_id: FromPath[str], docent: NamedDependency[Docent]) -> Conversation:
    return docent.conversations.get(conversation_id)


@delete("/conversations/{conversation_id:str}", sync_to_thread=False, summary="Delete a conversation", responses=errors(404))
def delete_conversation(conversation_id: FromPath[str], docent: NamedDependency[Docent]) -> None:
    docent.conversations.delete(conversation_id)


@post("/feedback", status_code=200, sync_to_thread=False, summary="A reader's vote on an answer or one of its sources", responses=errors(404))
def post_feedback(data: JSONBody[Feedback], docent: NamedDependency[Docent], feedback: NamedDependency[FeedbackStore]) -> Feedback:
    return feedback.vote(data, docent.conversations.get(data.conversation_id))


@get("/feedback/{conversation_id:str}", sync_to_thread=False, summary="The votes cast in a conversation")
def conversation_feedback(conversation_id: FromPath[str], feedback: NamedDependency[FeedbackStore]) -> list[Feedback]:
    return feedback.votes(conversation_id)


@get("/health", sync_to_thread=False)
def health(docent: NamedDependency[Docent]) -> Health:
    return Health(status="ok", records=docent.collection.count, model=docent.encoder.name)


def docent_error(request: Request, exc: DocentError) -> Response:
    return error_response(request, exc) or api_error(request, exc)


def open_docent(settings: Settings, encoder: Encoder | None = None) -> Docent:
    """The engine, with ``encoder`` or a new serving encoder (closed on failure)."""
    encoder = encoder or serving_encoder(**settings.encoder_options())
    try:
        return Docent.open(settings, encoder, conversations=True)
    except BaseException:
        encoder.close()
        raise


async def follow_generations(docent: Docent, interval: float) -> None:
    """Pick up a new index generation written by `docent ingest` while serving."""
    while True:
        await anyio.sleep(interval)
        try:
            await anyio.to_thread.run_sync(docent.reload)
        except DocentError as exc:  # a damaged new generation: keep serving the old one
            log.error("not switching to the new index: %s", exc)


def create_app(settings: Settings, encoder: Encoder | None = None) -> Litestar:
    """The application. ``encoder``, if given, is used instead of starting one
    in the lifespan, and closed with the app: `docent serve` starts it first,
    so the model loads while the web stack is imported and set up."""

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        app.state.docent = await anyio.to_thread.run_sync(lambda: open_docent(settings, encoder))
        app.state.feedback = FeedbackStore(settings.data_dir / FEEDBACK)
        try:
            async with anyio.create_task_group() as tasks:
                if settings.reload_interval > 0:
                    tasks.start_soon(follow_generations, app.state.docent, settings.reload_interval)
                yield
                tasks.cancel_scope.cancel()
        finally:
            app.state.feedback.close()
            app.state.docent.close()
            app.state.docent.encoder.close()

    app = Litestar(
        route_handlers=[admin_router, ask, search, record, conversations, conversation, delete_conversation, post_feedback, conversation_feedback, health, index, create_static_files_router(path="/static", directories=[WEB / "static"])],
        dependencies={"docent": Provide(provide_docent, sync_to_thread=False), "feedback": Provide(provide_feedback, sync_to_thread=False)},
        exception_handlers={DocentError: docent_error, TooManyRequestsException: too_many_requests},
        middleware=[limit.middleware] if (limit := rate_limit(settings)) else [],
        cors_config=cors(settings),
        lifespan=[lifespan],
        template_config=TemplateConfig(directory=WEB / "templates", engine=JinjaTemplateEngine),
        openapi_config=OpenAPIConfig(title="archive-docent", version="0.1.0", path="/schema"),
        request_max_body_size=MAX_BODY_BYTES,
        state=State({"settings": settings}),
    )
    strict_request_schemas(app)
    return app


def strict_request_schemas(app: Litestar) -> None:
    """Request bodies reject unknown fields (forbid_unknown_fields); say so in
    the OpenAPI schema, which Litestar does not derive from msgspec."""
    components = app.openapi_schema.components.schemas or {}
    for name, schema in components.items():
        struct = getattr(schemas, name, None)
        if struct is not None and getattr(getattr(struct, "__struct_config__", None), "forbid_unknown_fields", False):
            schema.additional_properties = False
