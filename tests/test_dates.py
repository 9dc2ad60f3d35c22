import pytest

from corpus.dates import DateParseError, overlaps, parse_date


@pytest.mark.parametrize(
    "text, earliest, latest, precision, approximate",
    [
        ("October 16, 1949", "1949-10-16", "1949-10-16", "day", False),
        ("October 08, 1962", "1962-10-08", "1962-10-08", "day", False),
        ("16 October 1949", "1949-10-16", "1949-10-16", "day", False),
        ("September 1966", "1966-09-01", "1966-09-30", "month", False),
        ("February, 1946", "1946-02-01", "1946-02-28", "month", False),
        ("February 1948", "1948-02-01", "1948-02-29", "month", False),
        ("1958", "1958-01-01", "1958-12-31", "year", False),
        ("1962-1963", "1962-01-01", "1963-12-31", "range", False),
        ("1949-50", "1949-01-01", "1950-12-31", "range", False),
        ("May 5-7, 1950", "1950-05-05", "1950-05-07", "range", False),
        ("October 1962 - January 1963", "1962-10-01", "1963-01-31", "range", False),
        ("1950s", "1950-01-01", "1959-12-31", "decade", False),
        ("c. 1970", "1970-01-01", "1970-12-31", "year", True),
        ("circa 1955", "1955-01-01", "1955-12-31", "year", True),
        ("June 1950 [?]", "1950-06-01", "1950-06-30", "month", True),
        ("1950-05-12", "1950-05-12", "1950-05-12", "day", False),
    ],
)
def test_catalogue_forms(text, earliest, latest, precision, approximate):
    parsed = parse_date(text)
    assert (parsed.earliest, parsed.latest, parsed.precision, parsed.approximate) == (earliest, latest, precision, approximate)


@pytest.mark.parametrize("text", ["", None, "   ", "Date unknown", "undated", "n.d."])
def test_missing_dates_are_undated(text):
    parsed = parse_date(text)
    assert parsed.precision == "undated" and parsed.earliest is None and parsed.latest is None


@pytest.mark.parametrize("text, fragment", [
    ("Spring 1950", "not a date form"),
    ("February 30, 1950", "not a valid date"),
    ("1963-1962", "ends"),
])
def test_unreadable_dates_raise_with_the_text(text, fragment):
    with pytest.raises(DateParseError, match=fragment):
        parse_date(text)


def test_overlap_semantics():
    assert overlaps("1950-01-01", "1950-12-31", "1950-05-01", "1950-05-31")
    assert not overlaps("1951-01-01", "1951-12-31", "1950-05-01", "1950-05-31")
    assert overlaps("1949-10-16", "1949-10-16", None, "1949-10-16")
    assert not overlaps(None, None, "1900-01-01", "2000-01-01")
