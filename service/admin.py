"""Admin endpoints: re-index, ingest and delete while the service serves.

Each writes a new index generation (the previous one stays intact until the
switch) and then swaps it in; requests in flight finish on the old one.
All need the admin API key (see service/security.py) and are off without one.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Router, delete, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from msgspec import Meta

from corpus.errors import InvalidInputError, NotFoundError, RecordError
from corpus.loaders import LoadResult, load_files
from corpus.model import FieldError, record_from_mapping
from embeddings.indexes import one_thread
from embeddings.ingest import IngestReport, ingest, remove
from service.engine import Docent
from service.schemas import errors
from service.security import admin_guard

MAX_ADMIN_BODY = 32 * 1024 * 1024


class ReindexRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    files: Annotated[list[Annotated[str, Meta(min_length=1, max_length=4096)]], Meta(min_length=1, max_length=100)]
    format: str | None = None
    replace: bool = True
    skip_invalid: bool = False


class IngestRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    records: Annotated[list[dict[str, Any]], Meta(min_length=1, max_length=100_000)]
    replace: bool = False


class AdminResult(msgspec.Struct, kw_only=True):
    loaded: int
    skipped: list[str]
    duplicates: int
    added: int
    updated: int
    unchanged: int
    removed: int
    embedded: int
    total: int
    generation: str
    notes: list[str]


def _result(docent: Docent, loaded: LoadResult, report: IngestReport) -> AdminResult:
    docent.reload()
    return AdminResult(
        loaded=loaded.counts["loaded"], skipped=[str(e) for e in loaded.invalid], duplicates=loaded.counts["duplicates"],
        added=report.added, updated=report.updated, unchanged=report.unchanged, removed=report.removed,
        embedded=report.embedded, total=report.total, generation=report.generation, notes=report.notes,
    )


def _index(docent: Docent, loaded: LoadResult, replace: bool) -> AdminResult:
    s = docent.settings
    # Building beside the requests: OpenMP workers would spin on their cores.
    with one_thread():
        report = ingest(s.data_dir, loaded.records, docent.encoder, replace=replace, batch_size=s.batch_size)
    return _result(docent, loaded, report)


@post("/reindex", sync_to_thread=True, responses=errors(401, 403, 413), summary="Re-ingest files on the server and swap the new index in")
def reindex(data: JSONBody[ReindexRequest], docent: NamedDependency[Docent]) -> AdminResult:
    return _index(docent, load_files(data.files, fmt=data.format, skip_invalid=data.skip_invalid), data.replace)


@post("/ingest", sync_to_thread=True, responses=errors(401, 403, 413), summary="Add or update records sent in the body")
def ingest_records(data: JSONBody[IngestRequest], docent: NamedDependency[Docent]) -> AdminResult:
    return _index(docent, validate(data.records), data.replace)


@delete("/records/{record_id:str}", status_code=200, sync_to_thread=True, responses=errors(401, 403, 404), summary="Remove a record from the index")
def delete_record(record_id: FromPath[str], docent: NamedDependency[Docent]) -> AdminResult:
    with one_thread():
        report = remove(docent.settings.data_dir, [record_id])
    if report.notes:
        raise NotFoundError(f"no record with id {record_id!r} in this collection")
    return _result(docent, LoadResult(), report)


def validate(raw: list[dict[str, Any]]) -> LoadResult:
    result = LoadResult()
    for number, mapping in enumerate(raw, start=1):
        try:
            result.records.append(record_from_mapping(mapping))
        except FieldError as exc:
            result.invalid.append(RecordError("request body", f"record {number}", exc.field, str(exc)))
    if result.invalid:
        raise InvalidInputError("; ".join(map(str, result.invalid[:5])))
    return result


admin_router = Router(
    path="/admin",
    route_handlers=[reindex, ingest_records, delete_record],
    guards=[admin_guard],
    request_max_body_size=MAX_ADMIN_BODY,
    tags=["admin"],
)
