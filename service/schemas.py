"""Request and response schemas of the HTTP API (and of ``docent ask --json``)."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from msgspec import Meta

Question = Annotated[str, Meta(min_length=1, max_length=100_000, description="The question, in plain language.")]


class AskRequest(msgspec.Struct, forbid_unknown_fields=True):
    question: Question
    k: Annotated[int, Meta(ge=1, description="Most sources to cite (1..max_k_ask, default 5).")] | None = None


class SearchRequest(msgspec.Struct, forbid_unknown_fields=True):
    question: Question
    k: Annotated[int, Meta(ge=1, description="Results to return (1..max_k_search, default 10).")] | None = None


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
    best_score: float | None
    min_score: float


class AskResponse(msgspec.Struct, kw_only=True):
    question: str
    answer: str
    sources: list[Source]
    abstained: bool
    searched: Searched


class SearchResponse(msgspec.Struct, kw_only=True):
    question: str
    results: list[SearchResult]


class Health(msgspec.Struct, kw_only=True):
    status: str
    records: int
    model: str


class ErrorBody(msgspec.Struct, kw_only=True):
    status_code: int
    detail: str
    extra: Any = None
