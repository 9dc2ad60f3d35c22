"""Conversations: the turns of a chat, stored in SQLite in the data directory.

Kept outside the index generations, so re-ingesting a collection does not
lose anyone's conversations, and a restart of the service resumes them.
"""

from __future__ import annotations

import secrets
import time
from pathlib import Path

import msgspec

from corpus.errors import NotFoundError
from service.sqlite_store import SQLiteStore

SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS turns (
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    n INTEGER NOT NULL,
    question TEXT NOT NULL,
    interpretation TEXT NOT NULL,
    response TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (conversation_id, n)
);
"""
TITLE_CHARS = 120


class ConversationSummary(msgspec.Struct, kw_only=True):
    id: str
    title: str
    created_at: str
    updated_at: str
    turns: int


class Turn(msgspec.Struct, kw_only=True):
    n: int
    question: str
    interpretation: dict
    response: dict
    created_at: str


class Conversation(ConversationSummary, kw_only=True):
    history: list[Turn]


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class ConversationStore(SQLiteStore):
    def __init__(self, path: Path) -> None:
        super().__init__(path, SCHEMA)

    def create(self, title: str) -> str:
        conversation_id = secrets.token_urlsafe(12)
        now = _now()
        with self._lock:
            self._db.execute(
                "INSERT INTO conversations (id, title, created_at, updated_at) VALUES (?, ?, ?, ?)",
                (conversation_id, title[:TITLE_CHARS], now, now),
            )
        return conversation_id

    def exists(self, conversation_id: str) -> bool:
        with self._lock:
            return self._db.execute("SELECT 1 FROM conversations WHERE id = ?", (conversation_id,)).fetchone() is not None

    def require(self, conversation_id: str) -> None:
        if not self.exists(conversation_id):
            raise NotFoundError(f"no conversation with id {conversation_id!r}")

    def append(self, conversation_id: str, question: str, interpretation: object, response: object) -> int:
        now = _now()
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                (n,) = self._db.execute("SELECT coalesce(max(n), 0) + 1 FROM turns WHERE conversation_id = ?", (conversation_id,)).fetchone()
                self._db.execute(
                    "INSERT INTO turns (conversation_id, n, question, interpretation, response, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                    (conversation_id, n, question, msgspec.json.encode(interpretation).decode(), msgspec.json.encode(response).decode(), now),
                )
                self._db.execute("UPDATE conversations SET updated_at = ? WHERE id = ?", (now, conversation_id))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return n

    def last_interpretation(self, conversation_id: str) -> dict | None:
        with self._lock:
            row = self._db.execute(
                "SELECT interpretation FROM turns WHERE conversation_id = ? ORDER BY n DESC LIMIT 1", (conversation_id,)
            ).fetchone()
        return msgspec.json.decode(row[0]) if row else None

    def list(self, limit: int = 100) -> list[ConversationSummary]:
        with self._lock:
            rows = self._db.execute(
                "SELECT c.id, c.title, c.created_at, c.updated_at, count(t.n) FROM conversations c "
                "LEFT JOIN turns t ON t.conversation_id = c.id GROUP BY c.id ORDER BY c.updated_at DESC, c.rowid DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [ConversationSummary(id=r[0], title=r[1], created_at=r[2], updated_at=r[3], turns=r[4]) for r in rows]

    def get(self, conversation_id: str) -> Conversation:
        with self._lock:
            head = self._db.execute("SELECT id, title, created_at, updated_at FROM conversations WHERE id = ?", (conversation_id,)).fetchone()
            rows = self._db.execute(
                "SELECT n, question, interpretation, response, created_at FROM turns WHERE conversation_id = ? ORDER BY n", (conversation_id,)
            ).fetchall()
        if head is None:
            raise NotFoundError(f"no conversation with id {conversation_id!r}")
        history = [Turn(n=n, question=q, interpretation=msgspec.json.decode(i), response=msgspec.json.decode(r), created_at=c) for n, q, i, r, c in rows]
        return Conversation(id=head[0], title=head[1], created_at=head[2], updated_at=head[3], turns=len(history), history=history)

    def delete(self, conversation_id: str) -> None:
        with self._lock:
            deleted = self._db.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,)).rowcount
        if not deleted:
            raise NotFoundError(f"no conversation with id {conversation_id!r}")
