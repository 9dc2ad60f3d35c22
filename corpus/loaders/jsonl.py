"""JSON Lines: one JSON object per line (the canonical format)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from corpus.loaders import Parsed, register
from corpus.model import FieldError


@register("jsonl", [".jsonl", ".ndjson"], "one JSON object per line: id, title, date, summary, notes, provenance fields")
def parse_jsonl(path: Path) -> Iterator[Parsed]:
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            location = f"line {number}"
            try:
                value = json.loads(line)
            except json.JSONDecodeError as exc:
                yield location, FieldError("(json)", f"not valid JSON: {exc.msg} at column {exc.colno}")
                continue
            yield location, value


@register("beir", [], "BEIR corpus.jsonl: _id, title, text (the summary), optional metadata with date etc.")
def parse_beir(path: Path) -> Iterator[Parsed]:
    for location, value in parse_jsonl(path):
        if isinstance(value, dict):
            metadata = value.pop("metadata", None) or {}
            value = {**metadata, **value}
            if "_id" in value:
                value["id"] = value.pop("_id")
            if "text" in value and "summary" not in value:
                value["summary"] = value.pop("text")
        yield location, value
