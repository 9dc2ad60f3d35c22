"""Property-based fuzzing: the date parser, every loader, and the HTTP API
driven by its own OpenAPI schema (schemathesis) on a real loopback server."""

import json
import string

import pytest
import schemathesis
from schemathesis.checks import positive_data_acceptance
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from hypothesis import strategies as st

from corpus.dates import DateParseError, parse_date
from corpus.errors import InvalidInputError
from corpus.loaders import REGISTRY, load_files
from tests.server import running_server

# Text that looks like catalogue dates often enough to reach every branch.
DATE_WORDS = st.sampled_from(["October", "Sept.", "May", "c.", "circa", "[?]", "undated", "Date unknown", "-", "–", ",", "s", "the", "to"])
DATE_TEXT = st.lists(st.one_of(DATE_WORDS, st.integers(0, 3000).map(str), st.text(max_size=4)), max_size=6).map(" ".join)


@given(st.one_of(DATE_TEXT, st.text(max_size=40)))
@settings(max_examples=600, deadline=None)
def test_date_parser_returns_an_interval_or_a_clear_error(text):
    try:
        parsed = parse_date(text)
    except DateParseError as exc:
        assert str(exc).startswith(repr(text)), "the error quotes the text it could not read"
        return
    assert parsed.precision in ("day", "month", "year", "decade", "range", "undated")
    if parsed.precision == "undated":
        assert parsed.earliest is None and parsed.latest is None
    else:
        assert parsed.earliest <= parsed.latest


FIELDS = st.dictionaries(
    st.sampled_from(["id", "title", "date", "summary", "notes", "extra", "language", "seen_on", "x"]),
    st.one_of(st.none(), st.integers(), st.text(max_size=30), st.lists(st.text(max_size=10), max_size=3), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2)),
    max_size=6,
)


def _check_load(path, fmt):
    try:
        result = load_files([path], fmt=fmt, skip_invalid=True)
    except InvalidInputError as exc:  # a whole-file problem: must say which file
        assert str(path) in str(exc)
        return
    for error in result.invalid:
        assert str(path) in str(error) and error.field
    counted = result.counts["loaded"] + result.counts["skipped"] + result.counts["duplicates"]
    assert counted >= result.counts["loaded"]


@given(st.lists(st.one_of(FIELDS.map(json.dumps), st.text(max_size=40)), max_size=8))
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_jsonl_loader_never_crashes(tmp_path, lines):
    path = tmp_path / "fuzz.jsonl"
    path.write_text("\n".join(lines), encoding="utf-8")
    _check_load(path, "jsonl")


CSV_CELL = st.text(alphabet=string.printable + "łé«»", max_size=20)


@given(st.lists(st.lists(CSV_CELL, min_size=1, max_size=5), min_size=1, max_size=6), st.booleans())
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_csv_loader_never_crashes(tmp_path, rows, with_title):
    import csv

    path = tmp_path / "fuzz.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow((["title"] if with_title else []) + ["date", "summary", "notes"][: max(0, len(rows[0]) - 1)])
        writer.writerows(rows)
    _check_load(path, "csv")


PARAGRAPH = st.one_of(
    st.sampled_from(["October 16, 1949", "1958", "September 1966", "Skip to content", "1 - 10 of 30", "A Title (undated)", ""]),
    st.text(alphabet=string.ascii_letters + " .,()[]0123456789\n", max_size=60),
)


@given(st.lists(PARAGRAPH, max_size=12))
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_listing_loader_never_crashes(tmp_path, paragraphs):
    path = tmp_path / "fuzz.txt"
    path.write_text("\n\n".join(paragraphs), encoding="utf-8")
    _check_load(path, "listing")


def test_every_registered_loader_is_fuzzed():
    assert set(REGISTRY) <= {"jsonl", "csv", "listing", "beir"}


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("fuzz") / "data"
    with running_server(data_dir, env={"DOCENT_MODEL": "hashing", "DOCENT_MIN_SCORE": "0.15", "DOCENT_MIN_SUPPORT": "1.5"}) as base:
        yield schemathesis.openapi.from_url(f"{base}/schema/openapi.json")


def test_api_never_fails_and_matches_its_schema(api_schema):
    """Every operation of the served OpenAPI schema, driven by schemathesis'
    generated requests, valid and invalid: no 5xx, a documented status, a body
    matching the schema.
    (Driven through Hypothesis directly: schemathesis' pytest plugin does not
    support this pytest version.)"""
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/ask", "/search", "/records/{record_id}", "/health"}
    calls = []
    for operation, mode in [(op, mode) for op in operations for mode in schemathesis.GenerationMode]:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=50, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case):
            # Requests the schema allows may still be refused with a 400 that
            # says why (a date "Spring", k above a configured limit), so the
            # "schema-valid request accepted" check is the one left out.
            response = case.call_and_validate(excluded_checks=[positive_data_acceptance])
            calls.append(response.status_code)

        try:
            check()
        except Unsatisfiable:
            # No invalid request exists for an operation without inputs (GET /health).
            assert mode is schemathesis.GenerationMode.NEGATIVE
    assert len(calls) >= 100 and all(code < 500 for code in calls)
    print(f"schemathesis: {len(calls)} requests over {len(operations)} operations, statuses {sorted(set(calls))}")
