"""Date-restricted lookups over a generation's record store.

Retrieval under a date constraint searches the records whose interval
overlaps the constraint (plus the undated ones, which are kept but ranked
lower), not just the global top of each list, so a relevant record from the
requested months is never lost below a hundred better matches from other years.
"""

from __future__ import annotations

from embeddings.store import FTS_WEIGHTS, RecordStore

_OVERLAP = "(earliest IS NULL OR ((:date_to IS NULL OR earliest <= :date_to) AND (:date_from IS NULL OR latest >= :date_from)))"


def positions_in_range(store: RecordStore, date_from: str | None, date_to: str | None) -> list[int]:
    rows = store._db.execute(f"SELECT pos FROM records WHERE {_OVERLAP}", {"date_from": date_from, "date_to": date_to})
    return [pos for (pos,) in rows]


def lexical_in_range(store: RecordStore, terms: list[str], k: int, date_from: str | None, date_to: str | None) -> list[tuple[int, float]]:
    if not terms:
        return []
    match = " OR ".join('"' + t.replace('"', '""') + '"' for t in terms)
    rows = store._db.execute(
        f"SELECT f.rowid, bm25(records_fts, {', '.join(map(str, FTS_WEIGHTS))}) AS score "
        f"FROM records_fts f JOIN records ON records.pos = f.rowid "
        f"WHERE records_fts MATCH :match AND {_OVERLAP} ORDER BY score LIMIT :k",
        {"match": match, "k": k, "date_from": date_from, "date_to": date_to},
    )
    return [(pos, -score) for pos, score in rows]


def dates_for(store: RecordStore, positions: list[int]) -> dict[int, tuple[str | None, str | None]]:
    if not positions:
        return {}
    marks = ",".join("?" * len(positions))
    rows = store._db.execute(f"SELECT pos, earliest, latest FROM records WHERE pos IN ({marks})", positions)
    return {pos: (earliest, latest) for pos, earliest, latest in rows}
