"""CSV with a header row naming the record fields (id, title, date, summary, notes, ...).

Notes may hold several paragraphs separated by blank lines within the cell;
columns that are not record fields are kept in ``extra``.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from pathlib import Path

from corpus.loaders import Parsed, register
from corpus.model import FieldError

_PARAGRAPHS = re.compile(r"\n\s*\n")


@register("csv", [".csv"], "comma-separated values with a header row naming the fields")
def parse_csv(path: Path) -> Iterator[Parsed]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        header = [name.strip().lower() for name in (reader.fieldnames or [])]
        if "title" not in header:
            yield "line 1", FieldError("title", "the header row has no 'title' column")
            return
        reader.fieldnames = header
        start = reader.line_num + 1
        for row in reader:
            location = f"line {start}"
            start = reader.line_num + 1
            if None in row:
                yield location, FieldError("(row)", f"has {len(header) + len(row[None])} cells but the header names {len(header)}")
                continue
            raw = {key: value for key, value in row.items() if key and value not in (None, "")}
            if not any(v.strip() for v in raw.values()):
                continue
            if "notes" in raw:
                raw["notes"] = [p.strip() for p in _PARAGRAPHS.split(raw["notes"]) if p.strip()]
            yield location, raw
