import json

import pytest

from corpus.errors import InvalidInputError, InvalidRecordsError
from corpus.loaders import REGISTRY, load_files
from tests.conftest import SEED_LISTING, SHARED_RECORDS, TINY, need_shared

SEED_DATES = [
    ("October 16, 1949", "1949-10-16", "day"),
    ("June 20, 1948", "1948-06-20", "day"),
    ("December 21, 1955", "1955-12-21", "day"),
    ("May 8, 1946", "1946-05-08", "day"),
    ("March 14, 1948", "1948-03-14", "day"),
    ("November 22, 1956", "1956-11-22", "day"),
    ("September 1966", "1966-09-01", "month"),
    ("January 24, 1966", "1966-01-24", "day"),
    ("June 8, 1965", "1965-06-08", "day"),
    ("February 27, 1965", "1965-02-27", "day"),
]


def test_registry_knows_the_three_formats():
    assert {"jsonl", "csv", "listing"} <= set(REGISTRY)


def test_seed_listing_page_loads_all_ten_records_with_dates_and_precisions():
    need_shared()
    result = load_files([SEED_LISTING])
    assert result.counts == {"loaded": 10, "skipped": 0, "duplicates": 0}
    assert [(r.date, r.earliest, r.precision) for r in result.records] == SEED_DATES
    speech = result.records[4]
    assert speech.title.startswith("Stenographic Record of a Speech")
    assert speech.notes == ["Brian Murray questions the validity of the document in CWIHP Working Paper No. 12, where the document was first published."]
    assert all(not r.notes for i, r in enumerate(result.records) if i != 4)
    # The same records in the shared JSON Lines file carry the same ids.
    shared_ids = {json.loads(line)["id"] for line in SHARED_RECORDS.open()}
    assert {r.id for r in result.records} <= shared_ids


def test_listing_undated_entry_has_no_date_line(tmp_path):
    text = (
        "Skip to content\n\n1 - 3 of 3\n\n"
        "Memorandum on Korea (undated)\n\nA memorandum about the armistice talks.\n\n"
        "October 16, 1949\n\nA Dated Record\n\nIts summary.\n\nAn editorial note.\n\n"
        "Notes on a Meeting with Kim Il Sung (Undated)\n\nNotes of a meeting.\n"
    )
    path = tmp_path / "page.txt"
    path.write_text(text)
    records = load_files([path]).records
    assert [(r.title, r.precision, r.notes) for r in records] == [
        ("Memorandum on Korea (undated)", "undated", []),
        ("A Dated Record", "day", ["An editorial note."]),
        ("Notes on a Meeting with Kim Il Sung (Undated)", "undated", []),
    ]


def test_listing_truncated_entry_is_reported_with_record_and_field(tmp_path):
    path = tmp_path / "page.txt"
    path.write_text("October 16, 1949\n\nA Title\n\nA summary.\n\nMay 8, 1946\n\nTitle Without Summary\n")
    with pytest.raises(InvalidRecordsError) as info:
        load_files([path])
    assert f"{path}, record 2 (line 7), field 'summary'" in str(info.value)


def test_jsonl_shared_corpus_loads_completely():
    need_shared()
    result = load_files([SHARED_RECORDS])
    assert result.counts == {"loaded": 1824, "skipped": 0, "duplicates": 0}
    by_precision = {}
    for r in result.records:
        by_precision[r.precision] = by_precision.get(r.precision, 0) + 1
    assert by_precision["month"] == 90 and by_precision["undated"] == 19
    assert all("seen_on" in r.extra for r in result.records)


def test_jsonl_errors_name_file_line_and_field(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"title": "Good", "date": "1950"}\n{"title": "", "date": "1950"}\n{not json\n{"title": "X", "date": "Spring 1950"}\n{"title": "Y", "notes": 5}\n')
    with pytest.raises(InvalidRecordsError) as info:
        load_files([path])
    message = str(info.value)
    assert f"{path}, line 2, field 'title': is missing or empty" in message
    assert "3 more invalid records" in message and "--skip-invalid" in message
    result = load_files([path], skip_invalid=True)
    assert result.counts == {"loaded": 1, "skipped": 4, "duplicates": 0}
    assert [(e.location, e.field) for e in result.invalid] == [
        ("line 2", "title"), ("line 3", "(json)"), ("line 4", "date"), ("line 5", "notes")
    ]


def test_duplicates_are_counted_not_dropped_silently(tmp_path):
    path = tmp_path / "dup.jsonl"
    line = '{"id": "a", "title": "T", "date": "1950", "summary": "S"}\n'
    path.write_text(line + line + '{"id": "a", "title": "Other", "date": "1951"}\n')
    result = load_files([path, TINY])
    assert result.counts == {"loaded": 9, "skipped": 0, "duplicates": 2}
    assert [d.identical for d in result.duplicates] == [True, False]
    assert result.duplicates[0].first_location == f"{path}, line 1"


def test_csv_with_header_row(tmp_path):
    path = tmp_path / "records.csv"
    path.write_text(
        'id,date,title,summary,notes,repository,box\n'
        'k1,"March 5, 1946",Sinews of Peace,"Churchill speaks at Fulton.","First note.\n\nSecond note.",Churchill Archive,12\n'
        ',1958,Untitled id,"Summary, with comma",,,\n'
    )
    records = load_files([path]).records
    assert records[0].id == "k1" and records[0].notes == ["First note.", "Second note."]
    assert records[0].repository == "Churchill Archive" and records[0].extra == {"box": "12"}
    assert records[1].precision == "year" and len(records[1].id) == 12


def test_csv_errors(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("date,title\n1950,Fine\nnot a date,Broken\n1951,Too,many\n")
    result = load_files([path], skip_invalid=True)
    assert [(e.location, e.field) for e in result.invalid] == [("line 3", "date"), ("line 4", "(row)")]
    nohead = tmp_path / "nohead.csv"
    nohead.write_text("a,b\n1,2\n")
    with pytest.raises(InvalidRecordsError, match="no 'title' column"):
        load_files([nohead])


def test_format_chosen_by_extension_or_flag(tmp_path):
    path = tmp_path / "records.data"
    path.write_text('{"title": "T", "date": "1950"}\n')
    with pytest.raises(InvalidInputError, match="cannot tell the format"):
        load_files([path])
    assert load_files([path], fmt="jsonl").counts["loaded"] == 1
    with pytest.raises(InvalidInputError, match="unknown format"):
        load_files([path], fmt="xml")


def test_missing_and_non_utf8_files(tmp_path):
    with pytest.raises(InvalidInputError, match="no such file"):
        load_files([tmp_path / "absent.jsonl"])
    latin = tmp_path / "latin.jsonl"
    latin.write_bytes('{"title": "Gomułka"}\n'.encode("utf-16"))
    with pytest.raises(InvalidInputError, match="not valid UTF-8"):
        load_files([latin])
