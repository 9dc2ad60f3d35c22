"""The archive's catalogue listing text, as copied from a search-results page.

Each entry is a date line, a title line, a summary paragraph and optional
note paragraphs, separated by blank lines. An undated entry has no date line;
its title then usually ends in "(undated)". Page furniture ("Skip to content",
"1521 - 1530 of 3279") is recognised and ignored; any other text before the
first entry is reported, never dropped silently.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from corpus.dates import DateParseError, parse_date
from corpus.loaders import Parsed, register
from corpus.model import FieldError

_FURNITURE = re.compile(r"^(skip to (main )?content|\d[\d,]* - \d[\d,]* of \d[\d,]*|showing .* results?|search results?)$", re.I)
_UNDATED_TITLE = re.compile(r"[(\[]\s*(undated|n\.\s?d\.|date unknown)\s*[)\]]\s*$", re.I)


def _paragraphs(text: str) -> list[tuple[int, str]]:
    """(first line number, paragraph text with inner line breaks joined)."""
    paragraphs: list[tuple[int, str]] = []
    current: list[str] = []
    start = 0
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            if not current:
                start = number
            current.append(line.strip())
        elif current:
            paragraphs.append((start, " ".join(current)))
            current = []
    if current:
        paragraphs.append((start, " ".join(current)))
    return paragraphs


def _is_date_line(paragraph: str) -> bool:
    if len(paragraph) > 40 or not re.search(r"\d|unknown|undated", paragraph, re.I):
        return False
    try:
        parse_date(paragraph)
    except DateParseError:
        return False
    return True


@register("listing", [".txt", ".listing"], "the archive's catalogue listing text: date line, title line, summary, notes")
def parse_listing(path: Path) -> Iterator[Parsed]:
    paragraphs = [p for p in _paragraphs(path.read_text(encoding="utf-8")) if not _FURNITURE.match(p[1])]
    entries: list[tuple[int, str, list[str]]] = []  # (line, date, [title, summary, notes...])
    orphans: list[int] = []
    for line, text in paragraphs:
        if _is_date_line(text):
            entries.append((line, text, []))
        elif entries and entries[-1][2] and len(entries[-1][2]) >= 2 and _UNDATED_TITLE.search(text):
            entries.append((line, "", [text]))
        elif not entries:
            if _UNDATED_TITLE.search(text):
                entries.append((line, "", [text]))
            else:
                orphans.append(line)
        else:
            entries[-1][2].append(text)
    for line in orphans:
        yield f"line {line}", FieldError("(text)", "text before the first record is neither a date line nor an undated title")
    for number, (line, date, parts) in enumerate(entries, start=1):
        location = f"record {number} (line {line})"
        if not parts:
            yield location, FieldError("title", "a date line is not followed by a title")
            continue
        if len(parts) < 2:
            yield location, FieldError("summary", "the title is not followed by a summary paragraph")
            continue
        title, summary, *notes = parts
        yield location, {"date": date, "title": title, "summary": summary, "notes": notes}
