"""Catalogue dates as printed -> an ISO interval with a precision.

Catalogues print dates many ways ("October 16, 1949", "October 08, 1962",
"September 1966", "February, 1946", "1958", "1962-1963", "c. 1970", "1950s",
"Date unknown", nothing at all). A record keeps the printed form untouched and
gains ``earliest``/``latest`` (inclusive ISO dates) and a ``precision`` so that
date filters can use overlap semantics and caveats can say how much is known.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date

PRECISIONS = ("day", "month", "year", "decade", "range", "undated")

MONTHS: dict[str, int] = {}
for _number, _name in enumerate(calendar.month_name):
    if _name:
        MONTHS[_name.lower()] = _number
        MONTHS[_name[:3].lower()] = _number
MONTHS["sept"] = 9

_MONTH = r"(?P<{name}>" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")\.?"
_APPROX = re.compile(r"^\s*(?:c\.|ca\.|circa|approx(?:imately|\.)?|about|around)\s*", re.I)
_UNKNOWN = re.compile(r"^\s*(?:date\s+)?(?:unknown|undated|n\.\s?d\.?|no date|not dated|\?+)\s*$", re.I)
_QUERY_MARK = re.compile(r"\s*\[\?\]\s*|\?\s*$")


@dataclass(frozen=True, slots=True)
class ParsedDate:
    earliest: str | None
    latest: str | None
    precision: str
    approximate: bool = False

    @property
    def undated(self) -> bool:
        return self.precision == "undated"


UNDATED = ParsedDate(None, None, "undated")


class DateParseError(ValueError):
    """The text is not empty but does not read as any date form we know."""


def _day(y: int, m: int, d: int) -> date:
    return date(y, m, d)  # raises ValueError on February 30 etc.


def _month_end(y: int, m: int) -> date:
    return date(y, m, calendar.monthrange(y, m)[1])


def _interval(first: date, last: date, precision: str, approx: bool) -> ParsedDate:
    if last < first:
        raise DateParseError(f"the range ends ({last.isoformat()}) before it starts ({first.isoformat()})")
    return ParsedDate(first.isoformat(), last.isoformat(), precision, approx)


def _month(name: str) -> int:
    return MONTHS[name.lower().rstrip(".")]


# Each pattern turns a match into (first day, last day, precision). Order matters:
# the more specific forms come first.
_PATTERNS: list[tuple[re.Pattern[str], object]] = []


def _pattern(regex: str):
    def register(fn):
        _PATTERNS.append((re.compile(r"^" + regex + r"$", re.I), fn))
        return fn

    return register


@_pattern(r"(?P<y>\d{4})-(?P<m>\d{2})-(?P<d>\d{2})")
def _iso_day(g):
    d = _day(int(g["y"]), int(g["m"]), int(g["d"]))
    return d, d, "day"


@_pattern(r"(?P<y>\d{4})-(?P<m>0[1-9]|1[0-2])")
def _iso_month(g):
    y, m = int(g["y"]), int(g["m"])
    return _day(y, m, 1), _month_end(y, m), "month"


@_pattern(_MONTH.format(name="m") + r"\s+(?P<d>\d{1,2})(?:st|nd|rd|th)?,?\s+(?P<y>\d{4})")
def _month_day_year(g):
    d = _day(int(g["y"]), _month(g["m"]), int(g["d"]))
    return d, d, "day"


@_pattern(r"(?P<d>\d{1,2})(?:st|nd|rd|th)?\s+" + _MONTH.format(name="m") + r",?\s+(?P<y>\d{4})")
def _day_month_year(g):
    d = _day(int(g["y"]), _month(g["m"]), int(g["d"]))
    return d, d, "day"


@_pattern(_MONTH.format(name="m") + r"\s+(?P<d1>\d{1,2})\s*[-–]\s*(?P<d2>\d{1,2}),?\s+(?P<y>\d{4})")
def _month_day_range(g):
    y, m = int(g["y"]), _month(g["m"])
    return _day(y, m, int(g["d1"])), _day(y, m, int(g["d2"])), "range"


@_pattern(_MONTH.format(name="m1") + r"\s+(?P<d1>\d{1,2})\s*[-–]\s*" + _MONTH.format(name="m2") + r"\s+(?P<d2>\d{1,2}),?\s+(?P<y>\d{4})")
def _month_day_month_day_range(g):
    y = int(g["y"])
    return _day(y, _month(g["m1"]), int(g["d1"])), _day(y, _month(g["m2"]), int(g["d2"])), "range"


@_pattern(_MONTH.format(name="m") + r",?\s+(?P<y>\d{4})")
def _month_year(g):
    y, m = int(g["y"]), _month(g["m"])
    return _day(y, m, 1), _month_end(y, m), "month"


@_pattern(_MONTH.format(name="m1") + r"\s*[-–/]\s*" + _MONTH.format(name="m2") + r",?\s+(?P<y>\d{4})")
def _month_month_range(g):
    y = int(g["y"])
    return _day(y, _month(g["m1"]), 1), _month_end(y, _month(g["m2"])), "range"


@_pattern(_MONTH.format(name="m1") + r",?\s+(?P<y1>\d{4})\s*[-–]\s*" + _MONTH.format(name="m2") + r",?\s+(?P<y2>\d{4})")
def _month_year_range(g):
    return _day(int(g["y1"]), _month(g["m1"]), 1), _month_end(int(g["y2"]), _month(g["m2"])), "range"


@_pattern(r"(?P<y>\d{4})")
def _year(g):
    y = int(g["y"])
    return date(y, 1, 1), date(y, 12, 31), "year"


@_pattern(r"(?:the\s+)?(?P<y>\d{3}0)'?s")
def _decade(g):
    y = int(g["y"])
    return date(y, 1, 1), date(y + 9, 12, 31), "decade"


@_pattern(r"(?P<y1>\d{4})\s*(?:[-–/]|to)\s*(?P<y2>\d{2,4})")
def _year_range(g):
    y1, raw2 = int(g["y1"]), g["y2"]
    y2 = int(raw2) if len(raw2) == 4 else int(str(y1)[: 4 - len(raw2)] + raw2)
    return date(y1, 1, 1), date(y2, 12, 31), "range"


def parse_date(text: str | None) -> ParsedDate:
    """Parse a catalogue date. Empty or "Date unknown" -> undated.

    Raises ``DateParseError`` for text that is not a date we understand, so a
    loader can report the record and field instead of guessing.
    """
    if text is None:
        return UNDATED
    cleaned = " ".join(text.split()).strip(" .;")
    if not cleaned or _UNKNOWN.match(cleaned):
        return UNDATED
    approx = False
    stripped = _APPROX.sub("", cleaned)
    if stripped != cleaned:
        approx = True
    if _QUERY_MARK.search(stripped):
        approx = True
        stripped = _QUERY_MARK.sub(" ", stripped).strip()
    stripped = stripped.strip("[]() ")
    for regex, build in _PATTERNS:
        match = regex.match(stripped)
        if match:
            try:
                first, last, precision = build(match.groupdict())  # type: ignore[operator]
            except ValueError as exc:
                raise DateParseError(f"{text!r} is not a valid date ({exc})") from None
            try:
                return _interval(first, last, precision, approx)
            except DateParseError as exc:
                raise DateParseError(f"{text!r} is not a valid date: {exc}") from None
    raise DateParseError(
        f"{text!r} is not a date form we recognise "
        "(expected e.g. 'October 16, 1949', 'September 1966', '1958', '1962-1963', 'c. 1970' or empty)"
    )


def overlaps(earliest: str | None, latest: str | None, date_from: str | None, date_to: str | None) -> bool:
    """Does a record's interval overlap a requested one? Undated records never do."""
    if earliest is None or latest is None:
        return False
    if date_from and latest < date_from:
        return False
    if date_to and earliest > date_to:
        return False
    return True
