"""The record model: one catalogue record with its parsed date and provenance."""

from __future__ import annotations

import hashlib
from typing import Any

import msgspec

from corpus.dates import DateParseError, parse_date

# Keys a loader maps onto Record fields; anything else lands in ``extra`` so no
# metadata is dropped on the way in.
TEXT_FIELDS = ("title", "date", "summary", "repository", "collection", "language", "translation", "source_url")
DERIVED_FIELDS = ("earliest", "latest", "precision")
MAX_FIELD_CHARS = 100_000


class Record(msgspec.Struct, kw_only=True, frozen=True):
    id: str
    title: str
    date: str = ""
    earliest: str | None = None
    latest: str | None = None
    precision: str = "undated"
    summary: str = ""
    notes: list[str] = msgspec.field(default_factory=list)
    repository: str = ""
    collection: str = ""
    language: str = ""
    translation: str = ""
    source_url: str = ""
    extra: dict[str, Any] = msgspec.field(default_factory=dict)

    @property
    def content_hash(self) -> str:
        """Hash of everything that goes into the embedding or the answer.

        Re-ingesting a record whose hash is unchanged reuses its stored vector.
        """
        return hashlib.sha256(msgspec.json.encode(self)).hexdigest()[:24]

    def embedding_text(self) -> str:
        return f"{self.title}. {self.summary}".strip()


def catalogue_id(date: str, title: str, summary: str) -> str:
    """The id scheme of the shared Wilson Center corpus, so the same record
    loaded from a listing page or a CSV gets the same id as in records.jsonl."""
    return hashlib.sha1(f"{date}|{title}|{summary}".encode("utf-8")).hexdigest()[:12]


class FieldError(ValueError):
    """A field of a raw record is invalid; ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def _text(raw: dict[str, Any], key: str, *, required: bool = False) -> str:
    value = raw.get(key)
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise FieldError(key, f"expected text, got {type(value).__name__}")
    value = value.strip()
    if required and not value:
        raise FieldError(key, "is missing or empty")
    if len(value) > MAX_FIELD_CHARS:
        raise FieldError(key, f"is {len(value):,} characters long (limit {MAX_FIELD_CHARS:,})")
    return value


def _notes(raw: dict[str, Any]) -> list[str]:
    value = raw.get("notes")
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [value.strip()]
    if not isinstance(value, list) or not all(isinstance(n, str) for n in value):
        raise FieldError("notes", "expected a list of text paragraphs")
    return [n.strip() for n in value if n.strip()]


def record_from_mapping(raw: dict[str, Any]) -> Record:
    """Validate a loosely typed mapping (a JSON object, a CSV row) into a Record.

    Raises ``FieldError`` naming the offending field.
    """
    if not isinstance(raw, dict):
        raise FieldError("(record)", f"expected an object, got {type(raw).__name__}")
    fields = {key: _text(raw, key, required=key == "title") for key in TEXT_FIELDS}
    try:
        parsed = parse_date(fields["date"])
    except DateParseError as exc:
        raise FieldError("date", str(exc)) from None
    record_id = raw.get("id")
    if record_id is None or record_id == "":
        record_id = catalogue_id(fields["date"], fields["title"], fields["summary"])
    elif isinstance(record_id, int):
        record_id = str(record_id)
    elif not isinstance(record_id, str) or not record_id.strip():
        raise FieldError("id", "expected non-empty text")
    record_id = record_id.strip()
    if len(record_id) > 200 or any(c in record_id for c in "/?#\n\r\t"):
        raise FieldError("id", "must be at most 200 characters without '/', '?', '#' or line breaks")
    extra = raw.get("extra") or {}
    if not isinstance(extra, dict):
        raise FieldError("extra", "expected an object")
    known = {"id", "notes", "extra", *TEXT_FIELDS, *DERIVED_FIELDS}
    extra = {**extra, **{k: v for k, v in raw.items() if k not in known}}
    return Record(
        id=record_id,
        notes=_notes(raw),
        extra=extra,
        earliest=parsed.earliest,
        latest=parsed.latest,
        precision=parsed.precision,
        **fields,
    )
