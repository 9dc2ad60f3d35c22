"""The records of one index generation, in SQLite beside the vectors.

Row ``pos`` of the ``records`` table is row ``pos`` of the vector matrix and
id ``pos`` in the FAISS index, so a search hit maps straight to its record.
"""

from __future__ import annotations

import itertools
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from pathlib import Path

import msgspec
import numpy as np

from corpus.model import Record
from corpus.text import fold, record_words
from embeddings.lexical import TERM_DF_SCHEMA, TOKENIZE, affordable, common_token, has_term_df

STEMS_SCHEMA = "CREATE TABLE stems (id INTEGER PRIMARY KEY, stem TEXT NOT NULL UNIQUE);"
SCHEMA = f"""
-- words: the ids (stems table) of corpus.text.record_words, sorted int32;
-- the second stage of hybrid retrieval reads them for a few hundred
-- candidates per question and matches them in numpy.
CREATE TABLE records (
    pos INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    content_hash TEXT NOT NULL,
    text_hash TEXT NOT NULL,
    earliest TEXT,
    latest TEXT,
    json TEXT NOT NULL,
    words BLOB NOT NULL
);
{STEMS_SCHEMA}
-- An incremental ingest looks up stored vectors by the text they embed.
CREATE INDEX records_text_hash ON records (text_hash);
-- Date-restricted search reads this index instead of every row (embeddings.ranges).
CREATE INDEX records_dates ON records (earliest, latest);
-- Lexical index beside the records; rowid = pos. Porter stemming and folded
-- diacritics, so "clarification" finds "clarifications" and "Gomulka" "Gomułka".
CREATE VIRTUAL TABLE records_fts USING fts5(
    title, summary, notes, tokenize = "{TOKENIZE}"
);
"""

# BM25 column weights: equal weights measured best on the dev suite (docs/retrieval.md).
FTS_WEIGHTS = (1.0, 1.0, 1.0)

_decoder = msgspec.json.Decoder(Record)


def decode_record(stored: str) -> Record:
    """A record from its stored JSON (RecordStore.stored_by_positions)."""
    return _decoder.decode(stored)


# Date masks kept per store (each is one byte per record: 1 MB at a million).
MASKS_KEPT = 16
# Past any YYYYMMDD day: where an undated record ends and an empty position begins.
NEVER = np.iinfo(np.int32).max
# Reading the store through a memory map: a question reads a few hundred
# rows scattered over the file, each otherwise a read() call into the page cache.
MMAP_BYTES = 1 << 36


def day_number(iso: str) -> int:
    """"1950-05-14" → 19500514: ISO dates compare as these integers do."""
    return int(iso.replace("-", ""))


class StoredRow(msgspec.Struct, frozen=True):
    pos: int
    id: str
    content_hash: str
    text_hash: str


def _fts_row(pos: int, r: Record) -> tuple:
    return (pos, fold(r.title), fold(r.summary), fold(" ".join(r.notes)))


class Vocabulary:
    """Stem → id for the words column. Ids are only ever appended, and a new
    generation's store is a copy of the previous one, so they stay valid."""

    def __init__(self, ids: dict[str, int]) -> None:
        self.ids = ids
        self._new: list[tuple[int, str]] = []
        self._lock = threading.Lock()

    @classmethod
    def read(cls, connection: sqlite3.Connection) -> Vocabulary:
        return cls(dict(connection.execute("SELECT stem, id FROM stems")))

    def encode(self, stems: Iterable[str]) -> np.ndarray:
        with self._lock:
            ids = []
            for stem in stems:
                found = self.ids.get(stem)
                if found is None:
                    found = self.ids[stem] = len(self.ids)
                    self._new.append((found, stem))
                ids.append(found)
        return np.sort(np.array(ids, dtype=np.int32))

    def flush(self, connection: sqlite3.Connection) -> None:
        connection.executemany("INSERT INTO stems (id, stem) VALUES (?, ?)", self._new)
        self._new = []


def _words(r: Record, vocabulary: Vocabulary) -> np.ndarray:
    return vocabulary.encode(record_words(r.title, r.summary, r.notes))


def _row(pos: int, r: Record, text_hash: str, vocabulary: Vocabulary) -> tuple:
    words = _words(r, vocabulary).tobytes()
    return (pos, r.id, r.content_hash, text_hash, r.earliest, r.latest, msgspec.json.encode(r).decode(), words)


def _connect_for_writing(path: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(path)
    # The file is in a temporary generation that is discarded unless complete
    # (and fsynced before the switch), so a journal would only cost time.
    connection.execute("PRAGMA journal_mode = OFF")
    connection.execute("PRAGMA synchronous = OFF")
    return connection


def write_store(path: Path, rows: Iterable[tuple[int, Record, str]]) -> None:
    """Write a new store file at ``path`` (which must not exist yet)."""
    connection = _connect_for_writing(path)
    try:
        connection.executescript(SCHEMA)
        vocabulary = Vocabulary({})
        rows = iter(rows)
        while batch := list(itertools.islice(rows, 5000)):
            connection.executemany(INSERT_RECORD, [_row(pos, r, th, vocabulary) for pos, r, th in batch])
            connection.executemany(INSERT_FTS, [_fts_row(pos, r) for pos, r, _ in batch])
        vocabulary.flush(connection)
        connection.executescript(TERM_DF_SCHEMA)
        connection.commit()
    finally:
        connection.close()


def update_store(path: Path, delete: list[int], update: list[tuple[int, Record, str]], insert: list[tuple[int, Record, str]]) -> None:
    """Apply changes to ``path``, a private copy of the previous generation's
    store (so a failure part-way leaves nothing in use half-changed), keeping
    the lexical index in step: ``delete`` drops rows, ``update`` rewrites rows
    in place (their text, and so their vector, is unchanged), ``insert`` adds
    rows at new positions."""
    connection = _connect_for_writing(path)
    try:
        _add_words(connection)
        vocabulary = Vocabulary.read(connection)
        updated = [pos for pos, _, _ in update]
        connection.executemany("DELETE FROM records WHERE pos = ?", [(pos,) for pos in delete])
        connection.executemany("DELETE FROM records_fts WHERE rowid = ?", [(pos,) for pos in delete + updated])
        connection.executemany(
            "UPDATE records SET content_hash = ?, text_hash = ?, earliest = ?, latest = ?, json = ?, words = ? WHERE pos = ?",
            [(*_row(pos, r, th, vocabulary)[2:], pos) for pos, r, th in update],
        )
        connection.executemany(INSERT_RECORD, [_row(pos, r, th, vocabulary) for pos, r, th in insert])
        connection.executemany(INSERT_FTS, [_fts_row(pos, r) for pos, r, _ in update + insert])
        vocabulary.flush(connection)
        connection.executescript(TERM_DF_SCHEMA)
        connection.commit()
    finally:
        connection.close()


def _has_words(connection: sqlite3.Connection) -> bool:
    return any(row[1] == "words" for row in connection.execute("PRAGMA table_info(records)"))


def _add_words(connection: sqlite3.Connection) -> None:
    """Give a store from before the words column one (index format 2)."""
    if _has_words(connection):
        return
    connection.execute("ALTER TABLE records ADD COLUMN words BLOB NOT NULL DEFAULT x''")
    connection.execute("DROP TABLE IF EXISTS stems")
    connection.execute(STEMS_SCHEMA)
    vocabulary = Vocabulary({})
    rows = connection.execute("SELECT pos, json FROM records").fetchall()
    connection.executemany("UPDATE records SET words = ? WHERE pos = ?", [(_words(_decoder.decode(blob), vocabulary).tobytes(), pos) for pos, blob in rows])
    vocabulary.flush(connection)


INSERT_RECORD = "INSERT INTO records (pos, id, content_hash, text_hash, earliest, latest, json, words) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
INSERT_FTS = "INSERT INTO records_fts (rowid, title, summary, notes) VALUES (?, ?, ?, ?)"


class RecordStore:
    """Read-only access to a generation's records; safe to share across threads.

    Each thread reads through its own connection: SQLite serialises the
    statements of one connection, so with a shared one the lexical searches
    of concurrent requests ran one at a time while the second core idled."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._uri = f"file:{path}?mode=ro&immutable=1"
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._connections_lock = threading.Lock()
        self._closed = False
        self._budgeted = has_term_df(self._db)
        # Stores written before the words column (index format 2) compute
        # the words of the records they read, numbered in memory.
        self._vocabulary: Vocabulary | None = None if _has_words(self._db) else Vocabulary({})
        self._dates: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self._dates_lock = threading.Lock()
        self._bounds: tuple[np.ndarray, np.ndarray] | None = None
        self._masks: OrderedDict[tuple[str | None, str | None], np.ndarray] = OrderedDict()

    @property
    def _db(self) -> sqlite3.Connection:
        connection = getattr(self._local, "db", None)
        if connection is None:
            # check_same_thread off only so that close() may close it from another thread.
            connection = sqlite3.connect(self._uri, uri=True, check_same_thread=False)
            connection.execute(f"PRAGMA mmap_size = {MMAP_BYTES}")
            with self._connections_lock:
                if self._closed:
                    connection.close()
                    raise sqlite3.ProgrammingError(f"{self.path}: the record store is closed")
                self._connections.append(connection)
            self._local.db = connection
        return connection

    def close(self) -> None:
        with self._connections_lock:
            self._closed = True
            connections, self._connections = self._connections, []
        for connection in connections:
            connection.close()

    def count(self) -> int:
        return self._db.execute("SELECT count(*) FROM records").fetchone()[0]

    def by_positions(self, positions: list[int]) -> dict[int, Record]:
        return {pos: _decoder.decode(blob) for pos, blob in self.stored_by_positions(positions).items()}

    def stored_by_positions(self, positions: list[int]) -> dict[int, str]:
        """The records as stored (JSON; ``decode_record`` reads one), for a
        caller that will read only some of them."""
        if not positions:
            return {}
        marks = ",".join("?" * len(positions))
        return dict(self._db.execute(f"SELECT pos, json FROM records WHERE pos IN ({marks})", positions))

    def word_ids(self, positions: list[int]) -> dict[int, np.ndarray]:
        """Each record's stems (corpus.text.record_words) as sorted ids, without decoding the record."""
        return {pos: np.frombuffer(words, dtype=np.int32) for pos, (words, _) in self.pooled_rows(positions).items()}

    def pooled_rows(self, positions: list[int]) -> dict[int, tuple[bytes, str]]:
        """Each record's ``word_ids`` as stored (int32 bytes, for a caller that
        joins many records' ids into one array: service.rerank.PoolWords) and
        its stored JSON. The second stage reads the ids of every candidate
        and the JSON of the few it keeps; both lie in the same row, so one
        read serves both (at 1M records a second read of the kept ones took
        ~0.3 ms, the JSON alongside the ids ~0.1 ms more)."""
        if not positions:
            return {}
        if self._vocabulary is not None:
            stored = self.stored_by_positions(positions)
            return {pos: (_words(_decoder.decode(blob), self._vocabulary).tobytes(), blob) for pos, blob in stored.items()}
        marks = ",".join("?" * len(positions))
        return {pos: (words, blob) for pos, words, blob in self._db.execute(f"SELECT pos, words, json FROM records WHERE pos IN ({marks})", positions)}

    def stem_ids(self, stems: Iterable[str]) -> np.ndarray:
        """The ids of those of ``stems`` that some record has (the others match nothing)."""
        stems = list(stems)
        if self._vocabulary is not None:
            return self._vocabulary.encode(stems)
        marks = ",".join("?" * len(stems))
        return np.array(sorted(i for (i,) in self._db.execute(f"SELECT id FROM stems WHERE stem IN ({marks})", stems)), dtype=np.int32)

    def match_expression(self, terms: list[str]) -> str:
        """The FTS5 query for ``terms``: any may match; in a large collection
        the most frequent may be left out (embeddings.lexical)."""
        if self._budgeted:
            terms = affordable(self._db, terms)
        return " OR ".join('"' + t.replace('"', '""') + '"' for t in terms)

    def lexical(self, terms: list[str], k: int) -> list[tuple[int, float]]:
        """BM25 over title, summary and notes; any term may match. Best first, scores positive."""
        return list(self.ranked(terms, k)) if terms else []

    def ranked(self, terms: list[str], limit: int = -1) -> Iterator[tuple[int, float]]:
        """(position, BM25 score) of every record matching any of ``terms``,
        best first, up to ``limit`` (-1: all), read lazily."""
        rows = self._db.execute(
            f"SELECT rowid, bm25(records_fts, {', '.join(map(str, FTS_WEIGHTS))}) AS score "
            "FROM records_fts WHERE records_fts MATCH ? ORDER BY score LIMIT ?",
            (self.match_expression(terms), limit),
        )
        return ((pos, -score) for pos, score in rows)

    def matching_count(self, words: list[str], cap: int) -> int:
        """How many records contain any of ``words`` (each word or phrase as
        FTS5 matches it), counted up to ``cap``. A single-token word already
        known to occur in ``cap`` records or more settles it from term_df:
        counting its matches would read ``cap`` rows of a long posting list."""
        if not words:
            return 0
        if self._budgeted and common_token(self._db, words, cap):
            return cap
        match = " OR ".join('"' + w.replace('"', '""') + '"' for w in words)
        (count,) = self._db.execute("SELECT count(*) FROM (SELECT 1 FROM records_fts WHERE records_fts MATCH ? LIMIT ?)", (match, cap)).fetchone()
        return count

    def by_id(self, record_id: str) -> Record | None:
        row = self._db.execute("SELECT json FROM records WHERE id = ?", (record_id,)).fetchone()
        return _decoder.decode(row[0]) if row else None

    def rows(self) -> Iterator[StoredRow]:
        for pos, rid, chash, thash in self._db.execute("SELECT pos, id, content_hash, text_hash FROM records ORDER BY pos"):
            yield StoredRow(pos, rid, chash, thash)

    def rows_for_ids(self, ids: list[str]) -> dict[str, StoredRow]:
        found = {}
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            marks = ",".join("?" * len(chunk))
            for pos, rid, chash, thash in self._db.execute(f"SELECT pos, id, content_hash, text_hash FROM records WHERE id IN ({marks})", chunk):
                found[rid] = StoredRow(pos, rid, chash, thash)
        return found

    def positions_for_texts(self, text_hashes: list[str]) -> dict[str, int]:
        """A stored row embedding each of these texts, where there is one (vectors to reuse)."""
        found = {}
        for i in range(0, len(text_hashes), 500):
            chunk = text_hashes[i : i + 500]
            marks = ",".join("?" * len(chunk))
            for thash, pos in self._db.execute(f"SELECT text_hash, min(pos) FROM records WHERE text_hash IN ({marks}) GROUP BY text_hash", chunk):
                found[thash] = pos
        return found

    def items(self) -> Iterator[tuple[int, str, Record]]:
        """(pos, text hash, record) in position order."""
        for pos, thash, blob in self._db.execute("SELECT pos, text_hash, json FROM records ORDER BY pos"):
            yield pos, thash, _decoder.decode(blob)

    def records(self) -> Iterator[Record]:
        for (blob,) in self._db.execute("SELECT json FROM records ORDER BY pos"):
            yield _decoder.decode(blob)

    def date_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every row's earliest and latest date as a YYYYMMDD integer (0 when
        undated) and whether the row holds a record, indexed by position:
        read once (~0.5 s per million records), then a date filter is two
        integer comparisons per row (~1 ms per million) instead of a scan of the table."""
        with self._dates_lock:
            if self._dates is None:
                day = "coalesce(CAST(replace({0}, '-', '') AS INTEGER), 0)"
                rows = self._db.execute(f"SELECT pos, {day.format('earliest')}, {day.format('latest')} FROM records")
                table = np.array(rows.fetchall(), dtype=np.int64).reshape(-1, 3)
                size = int(table[:, 0].max()) + 1 if len(table) else 0
                earliest, latest = np.zeros(size, dtype=np.int32), np.zeros(size, dtype=np.int32)
                earliest[table[:, 0]], latest[table[:, 0]] = table[:, 1], table[:, 2]
                present = np.zeros(size, dtype=bool)
                present[table[:, 0]] = True
                self._dates = earliest, latest, present
            return self._dates

    def _overlap_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """``date_arrays`` folded for overlap tests: an undated record spans
        everything and an empty position nothing, so a period's mask is two
        comparisons (~0.4 ms per million rows, against ~1 ms for the five
        passes that treat undated and empty rows apart)."""
        with self._dates_lock:
            bounds = self._bounds
        if bounds is None:
            earliest, latest, present = self.date_arrays()
            undated = earliest == 0
            low = np.where(present, np.where(undated, 0, earliest), NEVER).astype(np.int32)
            high = np.where(present, np.where(undated, NEVER, latest), -1).astype(np.int32)
            with self._dates_lock:
                bounds = self._bounds = low, high
        return bounds

    def date_mask(self, date_from: str | None, date_to: str | None) -> np.ndarray:
        """A read-only boolean mask over positions: the records whose interval
        overlaps [date_from, date_to] (ISO dates, either open), and the
        undated ones. The masks of recently asked periods are kept: a
        question's period recurs ("in 1962"), and follow-ups inherit it."""
        key = (date_from, date_to)
        with self._dates_lock:
            if key in self._masks:
                self._masks.move_to_end(key)
                return self._masks[key]
        low, high = self._overlap_bounds()
        mask = (low <= day_number(date_to)) if date_to else (low < NEVER)
        if date_from:
            mask &= high >= day_number(date_from)
        mask.flags.writeable = False
        with self._dates_lock:
            self._masks[key] = mask
            while len(self._masks) > MASKS_KEPT:
                self._masks.popitem(last=False)
        return mask

    def date_span(self) -> tuple[str | None, str | None, int]:
        earliest, latest = self._db.execute("SELECT min(earliest), max(latest) FROM records").fetchone()
        undated = self._db.execute("SELECT count(*) FROM records WHERE earliest IS NULL").fetchone()[0]
        return earliest, latest, undated
