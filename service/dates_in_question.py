"""Explicit dates in a question -> a date constraint (an inclusive ISO interval).

Understood: "in 1950", "in May 1950", "May 14, 1950", "14 May 1950",
"between 1948 and 1950", "from 1948 to 1950", "1948-1950", "July-August 1968",
"in the 1960s", "before 1956", "after 1956", "since 1956", "until 1956",
seasons ("spring 1960"), and "early/mid/late/end of" a month or year. A bare
year used as an adjective ("the 1972 joint communique") is not a constraint:
the records that led up to it may well be dated earlier. Relative expressions
that need knowledge of events ("after Stalin's death") are out of scope.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date

from corpus.dates import MONTHS

_MONTH = r"(?:" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")\.?"
_YEAR = r"(?:1[5-9]\d\d|20\d\d)"
_SEASONS = {"spring": (3, 5), "summer": (6, 8), "autumn": (9, 11), "fall": (9, 11), "winter": (12, 2)}
_PART = r"(?P<part>early|mid|middle of|late|end of|the end of|beginning of|the beginning of|start of|the start of)"
FIRST_YEAR, LAST_YEAR = "0001-01-01", "9999-12-31"


@dataclass(frozen=True)
class DateConstraint:
    date_from: str | None
    date_to: str | None
    phrase: str  # the words of the question it came from ("" when given explicitly)


def _month_no(name: str) -> int:
    return MONTHS[name.lower().rstrip(".")]


def _month_span(year: int, month: int, part: str | None = None) -> tuple[date, date]:
    last = calendar.monthrange(year, month)[1]
    part = (part or "").replace("the ", "").replace("middle of", "mid")
    if part == "early" or part in ("beginning of", "start of"):
        return date(year, month, 1), date(year, month, 10)
    if part == "mid":
        return date(year, month, 11), date(year, month, 20)
    if part in ("late", "end of"):
        return date(year, month, 20), date(year, month, last)
    return date(year, month, 1), date(year, month, last)


def _year_span(year: int, part: str | None = None) -> tuple[date, date]:
    part = (part or "").replace("the ", "").replace("middle of", "mid")
    if part == "early" or part in ("beginning of", "start of"):
        return date(year, 1, 1), date(year, 4, 30)
    if part == "mid":
        return date(year, 5, 1), date(year, 8, 31)
    if part in ("late", "end of"):
        return date(year, 9, 1), date(year, 12, 31)
    return date(year, 1, 1), date(year, 12, 31)


def _iso(span: tuple[date | None, date | None]) -> tuple[str | None, str | None]:
    return tuple(d.isoformat() if d else None for d in span)  # type: ignore[return-value]


# (pattern, builder) in priority order; the first match in the question wins.
_RULES: list[tuple[re.Pattern[str], object]] = []


def _rule(regex: str):
    def register(fn):
        _RULES.append((re.compile(regex, re.I), fn))
        return fn

    return register


@_rule(rf"\bbetween\s+(?:{_PART}\s+)?(?P<y1>{_YEAR})\s+and\s+(?P<y2>{_YEAR})\b")
def _between_years(m):
    return date(int(m["y1"]), 1, 1), date(int(m["y2"]), 12, 31)


@_rule(rf"\bfrom\s+(?P<y1>{_YEAR})\s+(?:to|until|till|through)\s+(?P<y2>{_YEAR})\b")
def _from_to_years(m):
    return date(int(m["y1"]), 1, 1), date(int(m["y2"]), 12, 31)


@_rule(rf"\b(?P<op>before|until|till|prior to|after|since|following)\s+(?:the\s+)?(?P<m>{_MONTH})\s+(?P<y>{_YEAR})\b")
def _relative_to_month(m):
    # "after the August 1956 plenum": the records that answer come from then on.
    first, last = _month_span(int(m["y"]), _month_no(m["m"]))
    if m["op"].lower() in ("before", "until", "till", "prior to"):
        return None, last
    return first, None


@_rule(rf"\b(?P<m1>{_MONTH})\s*(?:-|–|to|and)\s*(?P<m2>{_MONTH})\s+(?P<y>{_YEAR})\b")
def _month_range(m):
    y = int(m["y"])
    return date(y, _month_no(m["m1"]), 1), _month_span(y, _month_no(m["m2"]))[1]


@_rule(rf"\b(?P<m>{_MONTH})\s+(?P<d>\d{{1,2}})(?:st|nd|rd|th)?,?\s+(?P<y>{_YEAR})\b")
def _month_day_year(m):
    d = date(int(m["y"]), _month_no(m["m"]), int(m["d"]))
    return d, d


@_rule(rf"\b(?P<d>\d{{1,2}})(?:st|nd|rd|th)?\s+(?P<m>{_MONTH})\s+(?P<y>{_YEAR})\b")
def _day_month_year(m):
    d = date(int(m["y"]), _month_no(m["m"]), int(m["d"]))
    return d, d


@_rule(rf"\b(?:{_PART}\s+)?(?P<m>{_MONTH})(?:\s+of)?,?\s+(?P<y>{_YEAR})\b")
def _month_year(m):
    return _month_span(int(m["y"]), _month_no(m["m"]), m["part"])


@_rule(rf"\b(?:(?P<part>early|late)\s+)?(?P<s>spring|summer|autumn|fall|winter)\s+(?:of\s+)?(?P<y>{_YEAR})\b")
def _season(m):
    y, (first, last) = int(m["y"]), _SEASONS[m["s"].lower()]
    if first > last:  # winter 1950 = December 1950 to February 1951
        return date(y, 12, 1), _month_span(y + 1, last)[1]
    return date(y, first, 1), _month_span(y, last)[1]


@_rule(rf"\b(?P<y1>{_YEAR})\s*(?:-|–)\s*(?P<y2>{_YEAR}|\d\d)\b")
def _year_range(m):
    raw = m["y2"]
    y2 = int(raw) if len(raw) == 4 else int(m["y1"][:2] + raw)
    return date(int(m["y1"]), 1, 1), date(y2, 12, 31)


@_rule(r"\b(?:in\s+|during\s+)?the\s+(?:(?P<part>early|mid|late)[\s-]+)?(?P<y>(?:1[5-9]|20)\d0)'?s\b")
def _decade(m):
    y = int(m["y"])
    part = (m["part"] or "").lower()
    if part == "early":
        return date(y, 1, 1), date(y + 3, 12, 31)
    if part == "mid":
        return date(y + 3, 1, 1), date(y + 6, 12, 31)
    if part == "late":
        return date(y + 6, 1, 1), date(y + 9, 12, 31)
    return date(y, 1, 1), date(y + 9, 12, 31)


@_rule(rf"\b(?P<op>before|until|till|up to|prior to|by)\s+(?P<y>{_YEAR})\b")
def _before(m):
    y = int(m["y"])
    # "before 1956" excludes 1956; "until/by 1956" includes it.
    return None, (date(y - 1, 12, 31) if m["op"].lower() in ("before", "prior to") else date(y, 12, 31))


@_rule(rf"\b(?P<op>after|since|from)\s+(?P<y>{_YEAR})\b")
def _after(m):
    y = int(m["y"])
    return (date(y + 1, 1, 1) if m["op"].lower() == "after" else date(y, 1, 1)), None


@_rule(rf"\b(?:in|during|of|throughout|for|around|circa|c\.)\s+(?:{_PART}\s+)?(?P<y>{_YEAR})\b(?!\s*(?:-|–)\s*\d)")
def _in_year(m):
    return _year_span(int(m["y"]), m["part"])


@_rule(rf"(?:^|[,;(]\s*)(?:{_PART}\s+)?(?P<y>{_YEAR})\s*(?:[,;)?.]|$)")
def _standalone_year(m):
    # A year set off by punctuation at the end of a keyword query ("…, 1958").
    return _year_span(int(m["y"]), m["part"])


def extract_date_constraint(question: str) -> DateConstraint | None:
    for regex, build in _RULES:
        match = regex.search(question)
        if match:
            try:
                first, last = build(match)  # type: ignore[operator]
            except ValueError:  # "February 30, 1950": not a date, so no constraint
                continue
            date_from, date_to = _iso((first, last))
            return DateConstraint(date_from, date_to, match.group(0).strip(" ,;()?."))
    return None


def strip_date_phrase(question: str, constraint: DateConstraint | None) -> str:
    """The question without the words that stated the date (for carrying a topic over)."""
    if not constraint or not constraint.phrase:
        return question
    pattern = r"(?:\b(?:in|during|on|of|from|at|around)\s+)?(?:the\s+)?" + re.escape(constraint.phrase)
    return " ".join(re.sub(pattern, " ", question, flags=re.I).split()).replace(" ?", "?").replace(" ,", ",")
