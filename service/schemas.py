"""Request and response schemas of the HTTP API (and of ``docent ask --json``)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from http import HTTPStatus

import msgspec
from litestar.openapi import ResponseSpec
from msgspec import Meta

from corpus.caveats import Caveat
from corpus.model import Record
from service.interpret import Interpretation

# The hard cap fits any question, JSON-escaped, inside the 64 KiB body limit;
# the configured limit (max_question_chars, default 1000) is checked after.
Question = Annotated[str, Meta(min_length=1, max_length=4000, description="The question, in plain language.")]


DateBound = Annotated[str, Meta(max_length=40, description='ISO date ("1950-05-14") or a catalogue form ("May 1950", "1950").')]


class SearchRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    question: Question
    k: Annotated[int, Meta(ge=1, description="Results to return (1..max_k_search, default 10).")] | None = None
    date_from: DateBound | None = None
    date_to: DateBound | None = None


class AskRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    question: Question
    k: Annotated[int, Meta(ge=1, description="Most sources to cite (1..max_k_ask, default 5).")] | None = None
    date_from: DateBound | None = None
    date_to: DateBound | None = None
    conversation_id: Annotated[str, Meta(min_length=1, max_length=64, description="Continue this conversation (follow-ups).")] | None = None


class SourceFields(msgspec.Struct, kw_only=True):
    id: str
    title: str
    date: str
    earliest: str | None
    latest: str | None
    precision: str
    summary: str
    notes: list[str]
    url: str | None = msgspec.field(default=None)
    record_url: str
    repository: str = ""
    collection: str = ""
    score: float
    caveats: list[Caveat] = msgspec.field(default_factory=list)


class Source(SourceFields, kw_only=True):
    n: int


class SearchResult(SourceFields, kw_only=True):
    rank: int


class Searched(msgspec.Struct, kw_only=True):
    """What was searched: lets a reader tell 'not in this collection' from 'does not exist'."""

    records: int
    earliest: str | None
    latest: str | None
    undated: int
    date_from: str | None = None
    date_to: str | None = None
    best_score: float | None
    min_score: float
    # How well the best candidates support an answer (service.abstention); below min_support the answer abstains.
    support: float | None = None
    min_support: float | None = None


class AnswerCaveat(msgspec.Struct, kw_only=True):
    """One caveat code across the answer, with the sources it applies to."""

    code: str
    label: str
    sources: list[int]


class RecordDetail(Record, frozen=True, kw_only=True):
    """A record with the caveats a careful reader would add (GET /records/{id})."""

    caveats: list[Caveat] = msgspec.field(default_factory=list)


class AskResponse(msgspec.Struct, kw_only=True):
    question: str
    answer: str
    sources: list[Source]
    caveats: list[AnswerCaveat]
    abstained: bool
    searched: Searched
    interpretation: Interpretation
    conversation_id: str | None = None


class SearchResponse(msgspec.Struct, kw_only=True):
    question: str
    results: list[SearchResult]
    interpretation: Interpretation


class Health(msgspec.Struct, kw_only=True):
    status: str
    records: int
    model: str


class ErrorBody(msgspec.Struct, kw_only=True):
    status_code: int
    detail: str
    extra: Any = None


class Feedback(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A reader's vote on an answer (no record_id) or on one of its sources (POST /feedback)."""

    conversation_id: Annotated[str, Meta(min_length=1, max_length=64, description="The conversation the answer belongs to.")]
    turn: Annotated[int, Meta(ge=1, le=1_000_000, description="The answer's turn number in the conversation (1 = first).")]
    record_id: Annotated[str, Meta(min_length=1, max_length=200, description="A source the answer cited; omit to vote on the answer.")] | None = None
    vote: Annotated[Literal[1, -1], Meta(description="1 = useful / relevant, -1 = not.")]


def errors(*codes: int) -> dict[int, ResponseSpec]:
    """Document the error statuses a route can answer with (they share one body)."""
    return {code: ResponseSpec(data_container=ErrorBody, description=HTTPStatus(code).phrase) for code in codes}
