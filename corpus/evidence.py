"""Evidence for caveats: where in a record a phrase was found, quoted briefly.

Every caveat explanation quotes the words it rests on; these helpers find a
pattern in a record's fields and cut a readable snippet around it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from corpus.dates import DateParseError, ParsedDate, parse_date
from corpus.model import Record

_EDGE_WORDS = frozenset("a an the of to and or on in at by for with from as that this his her their its".split())


def texts(record: Record, fields: tuple[str, ...] = ("title", "summary", "notes")) -> Iterator[tuple[str, str]]:
    for field in fields:
        if field == "notes":
            yield from (("note", note) for note in record.notes)
        elif text := getattr(record, field):
            yield field, text


def snippet(text: str, match: re.Match[str], room: int = 40) -> str:
    """The matched phrase widened by up to ``room`` characters of whole words each side."""
    start, end = max(0, match.start() - room), min(len(text), match.end() + room)
    if start > 0:
        start = text.find(" ", start, match.start()) + 1 or match.start()
    if end < len(text):
        end = text.rfind(" ", match.end(), end) if text.rfind(" ", match.end(), end) != -1 else match.end()
    for opening, closing in ("()", "[]"):  # close a bracket the cut left open: "(Jan Novak)"
        if text.count(opening, start, end) > text.count(closing, start, end) and (close := text.find(closing, end)) != -1:
            end = close + 1 if close - end < 40 else end
    words = text[start:end].split()
    # Trim dangling small words the widening cut off mid-phrase ("... Conversation with the Envoy on").
    while len(words) > 1 and start > 0 and words[0].lower() in _EDGE_WORDS:
        words, start = words[1:], start + 1
    while len(words) > 1 and end < len(text) and words[-1].lower().strip(",;:") in _EDGE_WORDS:
        words = words[:-1]
    return " ".join(words).strip(" ,;:")


def quoted(field: str, text: str, match: re.Match[str], room: int = 40) -> str:
    return f'the {field} says "{snippet(text, match, room)}"'


def find(record: Record, pattern: re.Pattern[str], fields=("title", "summary", "notes")):
    """(field, text, match) of the first field the pattern matches, or None."""
    for field, text in texts(record, fields):
        if (match := pattern.search(text)) is not None:
            return field, text, match
    return None


def parsed(record: Record) -> ParsedDate:
    try:
        return parse_date(record.date)
    except DateParseError:  # a hand-built record may carry a date we cannot read; trust its fields
        return ParsedDate(record.earliest, record.latest, record.precision)
