"""Date-restricted lookups over a generation's records.

Retrieval under a date constraint searches the records whose interval
overlaps the constraint (plus the undated ones, which are kept but ranked
lower), not just the global top of each list, so a relevant record from the
requested months is never lost below a hundred better matches from other years.

Which rows overlap is decided on the store's date arrays (one comparison per
row in numpy: ~1 ms at a million records, where a table scan takes ~100 ms).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from embeddings.collection import Collection, Hit, Restriction
from embeddings.store import RecordStore, day_number

# Up to this many rows in range, the dense side scores each exactly (~0.4 µs
# a row, when the rows are in memory); above, it runs a filtered search of the index.
EXACT_IN_RANGE = 5_000


@dataclass(frozen=True)
class Period:
    """The records whose dates overlap a period (and the undated ones), made
    ready for the dense search: listed when few enough to score exactly,
    else a restriction of the index search. Built once per period and kept
    (Collection.memo): at a million records the mask, counting it and the
    selector cost ~2 ms, which the retriever pays beside the encode."""

    positions: np.ndarray | None
    restriction: Restriction | None


def period(collection: Collection, date_from: str | None, date_to: str | None) -> Period:
    return collection.memo(("period", date_from, date_to), lambda: _period(collection, date_from, date_to))


def _period(collection: Collection, date_from: str | None, date_to: str | None) -> Period:
    mask = collection.store.date_mask(date_from, date_to)
    if np.count_nonzero(mask) <= EXACT_IN_RANGE:
        return Period(np.flatnonzero(mask), None)
    return Period(None, collection.restriction(mask))


def dense_in_range(collection: Collection, query: np.ndarray, k: int, date_from: str | None, date_to: str | None) -> list[Hit]:
    """The ``k`` records in range most similar to ``query``, best first: exact
    while few records are in range, else a filtered search of the index
    (approximate like any search of that index, but without reading every in-range vector)."""
    found = period(collection, date_from, date_to)
    if found.positions is not None:
        cosines = collection.cosines(query, found.positions)
        top = np.argsort(-cosines, kind="stable")[:k]
        return [Hit(int(found.positions[i]), float(cosines[i])) for i in top]
    return collection.search(query, k, within=found.restriction)


def lexical_with_range(store: RecordStore, terms: list[str], k: int, date_from: str | None, date_to: str | None) -> tuple[list[tuple[int, float]], list[tuple[int, float]]]:
    """BM25's best ``k`` overall and its best ``k`` among the records in
    range, from one FTS5 query: FTS5 scores every match before it can sort
    either way, so the second list costs only reading further down the
    ranking and checking each row against the date mask."""
    if not terms:
        return [], []
    mask = store.date_mask(date_from, date_to)
    overall: list[tuple[int, float]] = []
    within: list[tuple[int, float]] = []
    for pos, score in store.ranked(terms):
        if len(overall) < k:
            overall.append((pos, score))
        if len(within) < k and pos < len(mask) and mask[pos]:
            within.append((pos, score))
        if len(overall) == k and len(within) == k:
            break
    return overall, within


def date_fits(store: RecordStore, positions: list[int], date_from: str | None, date_to: str | None) -> list[str | None]:
    """How each position's interval fits [date_from, date_to] (either open):
    "within", "partial" (overlapping), "outside", "undated", or None for a
    position that holds no record; compared on the store's day arrays."""
    earliest, latest, present = store.date_arrays()
    index = np.asarray(positions, dtype=np.int64)
    known = index < len(present)
    index = np.where(known, index, 0)
    known &= present[index]
    first, last = earliest[index], latest[index]
    outside, within = np.zeros(len(index), dtype=bool), np.ones(len(index), dtype=bool)
    if date_from:
        outside |= last < day_number(date_from)
        within &= first >= day_number(date_from)
    if date_to:
        outside |= first > day_number(date_to)
        within &= last <= day_number(date_to)
    fits = np.select([~known, first == 0, outside, within], ["", "undated", "outside", "within"], "partial")
    return [fit or None for fit in fits.tolist()]
