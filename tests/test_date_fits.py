"""Date fits on the store's day arrays agree with the ISO-string rule."""

import itertools

from corpus.model import Record
from embeddings.collection import Collection
from embeddings.encoder import HashingEncoder
from embeddings.ingest import ingest
from embeddings.ranges import date_fits
from service.retrieval import date_fit

DATES = ["1950", "May 1950", "14 May 1950", "1950-05-13", "1949-12", "1951", ""]
WINDOWS = [None, "1949-12-31", "1950-01-01", "1950-05-01", "1950-05-14", "1950-05-31", "1950-12-31", "1952-01-01"]


def test_date_fits_match_date_fit_for_every_window(tmp_path):
    records = [Record(id=f"r{i}", title=f"Record {i}", date=date, summary="Talks.") for i, date in enumerate(DATES)]
    ingest(tmp_path, records, HashingEncoder())
    c = Collection.open(tmp_path, model="hashing")
    try:
        stored = {pos: record for pos, _, record in c.store.items()}
        positions = sorted(stored)
        for date_from, date_to in itertools.product(WINDOWS, WINDOWS):
            if date_from and date_to and date_from > date_to:
                continue
            expected = [date_fit(stored[p].earliest, stored[p].latest, date_from, date_to) for p in positions]
            assert date_fits(c.store, positions, date_from, date_to) == expected, (date_from, date_to)
        assert date_fits(c.store, [len(DATES) + 5], "1950-01-01", None) == [None], "a position without a record"
    finally:
        c.close()
