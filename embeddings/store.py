"""The records of one index generation, in SQLite beside the vectors.

Row ``pos`` of the ``records`` table is row ``pos`` of the vector matrix and
id ``pos`` in the FAISS index, so a search hit maps straight to its record.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path

import msgspec

from corpus.model import Record
from corpus.text import fold

SCHEMA = """
CREATE TABLE records (
    pos INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    content_hash TEXT NOT NULL,
    text_hash TEXT NOT NULL,
    earliest TEXT,
    latest TEXT,
    json TEXT NOT NULL
);
-- Lexical index beside the records; rowid = pos. Porter stemming and folded
-- diacritics, so "clarification" finds "clarifications" and "Gomulka" "Gomułka".
CREATE VIRTUAL TABLE records_fts USING fts5(
    title, summary, notes, tokenize = "porter unicode61 remove_diacritics 2"
);
"""

# BM25 column weights: equal weights measured best on the dev suite (docs/retrieval.md).
FTS_WEIGHTS = (1.0, 1.0, 1.0)

_decoder = msgspec.json.Decoder(Record)


class StoredRow(msgspec.Struct, frozen=True):
    pos: int
    id: str
    content_hash: str
    text_hash: str


def write_store(path: Path, rows: Iterable[tuple[int, Record, str]]) -> None:
    """Write a new store file at ``path`` (which must not exist yet)."""
    connection = sqlite3.connect(path)
    try:
        connection.executescript(SCHEMA)
        for pos, r, text_hash in rows:
            connection.execute(
                "INSERT INTO records (pos, id, content_hash, text_hash, earliest, latest, json) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (pos, r.id, r.content_hash, text_hash, r.earliest, r.latest, msgspec.json.encode(r).decode()),
            )
            connection.execute(
                "INSERT INTO records_fts (rowid, title, summary, notes) VALUES (?, ?, ?, ?)",
                (pos, fold(r.title), fold(r.summary), fold(" ".join(r.notes))),
            )
        connection.commit()
    finally:
        connection.close()


class RecordStore:
    """Read-only access to a generation's records; safe to share across threads."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True, check_same_thread=False)

    def close(self) -> None:
        self._db.close()

    def count(self) -> int:
        return self._db.execute("SELECT count(*) FROM records").fetchone()[0]

    def by_positions(self, positions: list[int]) -> dict[int, Record]:
        if not positions:
            return {}
        marks = ",".join("?" * len(positions))
        rows = self._db.execute(f"SELECT pos, json FROM records WHERE pos IN ({marks})", positions)
        return {pos: _decoder.decode(blob) for pos, blob in rows}

    def lexical(self, terms: list[str], k: int) -> list[tuple[int, float]]:
        """BM25 over title, summary and notes; any term may match. Best first, scores positive."""
        if not terms:
            return []
        match = " OR ".join('"' + t.replace('"', '""') + '"' for t in terms)
        rows = self._db.execute(
            f"SELECT rowid, bm25(records_fts, {', '.join(map(str, FTS_WEIGHTS))}) AS score "
            "FROM records_fts WHERE records_fts MATCH ? ORDER BY score LIMIT ?",
            (match, k),
        )
        return [(pos, -score) for pos, score in rows]

    def by_id(self, record_id: str) -> Record | None:
        row = self._db.execute("SELECT json FROM records WHERE id = ?", (record_id,)).fetchone()
        return _decoder.decode(row[0]) if row else None

    def rows(self) -> Iterator[StoredRow]:
        for pos, rid, chash, thash in self._db.execute("SELECT pos, id, content_hash, text_hash FROM records ORDER BY pos"):
            yield StoredRow(pos, rid, chash, thash)

    def records(self) -> Iterator[Record]:
        for (blob,) in self._db.execute("SELECT json FROM records ORDER BY pos"):
            yield _decoder.decode(blob)

    def date_span(self) -> tuple[str | None, str | None, int]:
        earliest, latest = self._db.execute("SELECT min(earliest), max(latest) FROM records").fetchone()
        undated = self._db.execute("SELECT count(*) FROM records WHERE earliest IS NULL").fetchone()[0]
        return earliest, latest, undated
