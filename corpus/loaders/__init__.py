"""Loaders for record files, chosen from one registry by extension or name.

Every loader turns a file into ``(location, mapping)`` pairs; validation into
a ``Record`` happens once, here, so every format reports errors the same way:
file, line or record, and field. Nothing is dropped silently: each input
record ends up loaded, skipped as invalid, or counted as a duplicate.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from corpus.errors import InvalidInputError, InvalidRecordsError, RecordError
from corpus.model import FieldError, Record, record_from_mapping

# A parser yields (location, raw mapping) or (location, FieldError) for input
# it could not even turn into a mapping (bad JSON, a truncated listing entry).
Parsed = tuple[str, "dict[str, Any] | FieldError"]
Parser = Callable[[Path], Iterator[Parsed]]


@dataclass(frozen=True)
class Format:
    name: str
    extensions: tuple[str, ...]
    parse: Parser
    description: str


REGISTRY: dict[str, Format] = {}


def register(name: str, extensions: Iterable[str], description: str) -> Callable[[Parser], Parser]:
    def decorate(parse: Parser) -> Parser:
        REGISTRY[name] = Format(name, tuple(extensions), parse, description)
        return parse

    return decorate


def format_for(path: Path, name: str | None = None) -> Format:
    if name:
        if name not in REGISTRY:
            raise InvalidInputError(f"unknown format {name!r}; known formats: {', '.join(sorted(REGISTRY))}")
        return REGISTRY[name]
    suffix = path.suffix.lower()
    for fmt in REGISTRY.values():
        if suffix in fmt.extensions:
            return fmt
    known = ", ".join(f"{ext} ({fmt.name})" for fmt in REGISTRY.values() for ext in fmt.extensions)
    raise InvalidInputError(f"{path}: cannot tell the format from the extension {suffix or '(none)'!r}; known: {known}; or pass --format")


@dataclass
class Duplicate:
    id: str
    location: str
    first_location: str
    identical: bool


@dataclass
class LoadResult:
    records: list[Record] = field(default_factory=list)
    invalid: list[RecordError] = field(default_factory=list)
    duplicates: list[Duplicate] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        return {"loaded": len(self.records), "skipped": len(self.invalid), "duplicates": len(self.duplicates)}

    def summary(self) -> str:
        c = self.counts
        return f"{c['loaded']} loaded, {c['skipped']} skipped as invalid, {c['duplicates']} duplicates"


def load_files(paths: Iterable[str | Path], fmt: str | None = None, skip_invalid: bool = False) -> LoadResult:
    """Load records from files. Raises ``InvalidRecordsError`` on the first bad
    file unless ``skip_invalid``; then the bad records are listed in ``invalid``."""
    result = LoadResult()
    first_seen: dict[str, tuple[str, str]] = {}
    for raw_path in paths:
        path = Path(raw_path)
        parser = format_for(path, fmt).parse
        if not path.is_file():
            raise InvalidInputError(f"{path}: no such file")
        try:
            items = list(parser(path))
        except UnicodeDecodeError as exc:
            raise InvalidInputError(f"{path}: not valid UTF-8 text (byte {exc.start})") from None
        except OSError as exc:
            raise InvalidInputError(f"{path}: cannot read ({exc.strerror})") from None
        for location, raw in items:
            try:
                if isinstance(raw, FieldError):
                    raise raw
                record = record_from_mapping(raw)
            except FieldError as exc:
                result.invalid.append(RecordError(str(path), location, exc.field, str(exc)))
                continue
            where = f"{path}, {location}"
            if record.id in first_seen:
                prior, prior_hash = first_seen[record.id]
                result.duplicates.append(Duplicate(record.id, where, prior, prior_hash == record.content_hash))
                continue
            first_seen[record.id] = (where, record.content_hash)
            result.records.append(record)
    if result.invalid and not skip_invalid:
        raise InvalidRecordsError(result.invalid)
    return result


# Importing the format modules registers them.
from corpus.loaders import csvfile, jsonl, listing  # noqa: E402,F401
