"""A cost bound for lexical search in large collections.

SQLite FTS5 computes BM25 for every row that matches any query term before
it can sort: ~1 µs a row here. At the real corpus size a question matches at
most a few thousand rows, but at 100k records "soviet" alone matches 53,000
and one question costs ~80 ms; at 1M, ten times that. So when the terms of a
question would match more than LEXICAL_BUDGET rows in all, the most frequent
terms are left out of the lexical query, rarest first kept, at least one
always. The terms dropped are the ones BM25 weighs least (lowest IDF) and the
dense side still sees the whole question. Below the budget, which every
question stays under at the real corpus size (the largest dev question
matches ~2,300 rows of 1,824 records' postings), nothing changes.

Document frequencies come from ``term_df``, written at ingest from FTS5's own
vocabulary; query words are turned into FTS5 tokens (porter stems, folded
diacritics) by the same tokenizer, in a private in-memory table.
"""

from __future__ import annotations

import sqlite3
import threading
from functools import lru_cache

TOKENIZE = "porter unicode61 remove_diacritics 2"
LEXICAL_BUDGET = 4000
# Terms rarer than this are not listed in term_df: they are cheap anyway.
MIN_LISTED_DF = 32

TERM_DF_SCHEMA = f"""
DROP TABLE IF EXISTS term_df;
CREATE VIRTUAL TABLE temp.records_vocab USING fts5vocab(main, 'records_fts', 'row');
CREATE TABLE term_df (term TEXT PRIMARY KEY, df INTEGER NOT NULL) WITHOUT ROWID;
INSERT INTO term_df SELECT term, doc FROM temp.records_vocab WHERE doc >= {MIN_LISTED_DF};
DROP TABLE temp.records_vocab;
"""

_local = threading.local()


def _tokenizer() -> sqlite3.Connection:
    connection = getattr(_local, "connection", None)
    if connection is None:
        connection = sqlite3.connect(":memory:")
        connection.execute(f"CREATE VIRTUAL TABLE q USING fts5(t, tokenize = '{TOKENIZE}')")
        connection.execute("CREATE VIRTUAL TABLE qv USING fts5vocab(q, 'instance')")
        _local.connection = connection
    return connection


def tokens(terms: list[str]) -> list[list[str]]:
    """The FTS5 tokens of each term (a phrase has several), as MATCH sees them."""
    return [list(_tokens(term)) for term in terms]


@lru_cache(maxsize=50_000)
def _tokens(term: str) -> tuple[str, ...]:
    # A round trip through the in-memory FTS table costs ~0.1 ms and the
    # words of questions recur (a question's words are tokenised two or three
    # times, and the same names come back question after question).
    connection = _tokenizer()
    connection.execute("INSERT INTO q (rowid, t) VALUES (1, ?)", (term,))
    found = tuple(t for (t,) in connection.execute("SELECT term FROM qv ORDER BY offset"))
    connection.execute("DELETE FROM q")
    return found


def affordable(db: sqlite3.Connection, terms: list[str], budget: int = LEXICAL_BUDGET) -> list[str]:
    """``terms`` minus the most frequent ones, so that they match about
    ``budget`` rows at most (see the module docstring)."""
    if len(terms) < 2:
        return terms
    split = tokens(terms)
    wanted = sorted({t for ts in split for t in ts})
    marks = ",".join("?" * len(wanted))
    df = dict(db.execute(f"SELECT term, df FROM term_df WHERE term IN ({marks})", wanted)) if wanted else {}
    # A phrase matches no more rows than its rarest word.
    cost = [min((df.get(t, 0) for t in ts), default=0) for ts in split]
    if sum(cost) <= budget:
        return terms
    keep, spent = set(), 0
    for i in sorted(range(len(terms)), key=lambda i: cost[i]):
        if keep and spent + cost[i] > budget:
            break
        keep.add(i)
        spent += cost[i]
    return [t for i, t in enumerate(terms) if i in keep]


def common_token(db: sqlite3.Connection, words: list[str], df: int) -> bool:
    """Whether one of ``words`` is a single FTS5 token that ``df`` records or more contain."""
    single = sorted({ts[0] for ts in tokens(words) if len(ts) == 1})
    if not single:
        return False
    marks = ",".join("?" * len(single))
    return db.execute(f"SELECT 1 FROM term_df WHERE term IN ({marks}) AND df >= ? LIMIT 1", (*single, df)).fetchone() is not None


def has_term_df(db: sqlite3.Connection) -> bool:
    return db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'term_df'").fetchone() is not None
