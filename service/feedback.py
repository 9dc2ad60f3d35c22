"""Readers' thumbs up/down on answers and sources, and the evaluation suite they make.

Votes live in ``feedback.sqlite`` in the data directory. Each judged turn keeps
a copy of what was judged (the question, an explicit date filter, the cited
record ids), so the export still works after the conversation is deleted: a
reader's judgement belongs to the collection's evaluation set, not to the chat.

``export_suite`` turns the votes into a BEIR-style suite that
``eval.suite.load_suite`` reads (the rules are in ``JudgedTurn.grades`` and ``build_suite``).
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from corpus.errors import InvalidInputError, NotFoundError
from service.conversations import Conversation
from service.sqlite_store import SQLiteStore
from service.schemas import Feedback

FEEDBACK = "feedback.sqlite"
ANSWER = ""  # the record_id column of a vote on the answer as a whole

SCHEMA = """
CREATE TABLE IF NOT EXISTS judged_turns (
    conversation_id TEXT NOT NULL,
    turn INTEGER NOT NULL,
    question TEXT NOT NULL,
    date_from TEXT,
    date_to TEXT,
    abstained INTEGER NOT NULL,
    sources TEXT NOT NULL,
    PRIMARY KEY (conversation_id, turn)
);
CREATE TABLE IF NOT EXISTS votes (
    conversation_id TEXT NOT NULL,
    turn INTEGER NOT NULL,
    record_id TEXT NOT NULL,
    vote INTEGER NOT NULL CHECK (vote IN (-1, 1)),
    updated_at TEXT NOT NULL,
    PRIMARY KEY (conversation_id, turn, record_id)
);
"""


def standalone(question: str, reading: dict) -> tuple[str, str | None, str | None]:
    """The question as it stands alone in a suite, with its explicit dates.

    A question's own date words stay in its text (evaluation reads them as the
    engine did). A follow-up ("And in 1951?") means nothing alone: it becomes
    the topic it was completed with, and its dates, wherever they came from,
    become the query's date range."""
    if reading.get("context"):
        return reading.get("topic") or question, reading.get("date_from"), reading.get("date_to")
    if reading.get("date_source") == "request":
        return question, reading.get("date_from"), reading.get("date_to")
    return question, None, None


class FeedbackStore(SQLiteStore):
    def __init__(self, path: Path) -> None:
        super().__init__(path, SCHEMA)

    def vote(self, feedback: Feedback, conversation: Conversation) -> Feedback:
        """Store a vote (a second vote on the same thing replaces the first).
        Votes only on what the reader was shown: a turn of this conversation
        and, for a source, one the turn cited."""
        turn = next((t for t in conversation.history if t.n == feedback.turn), None)
        if turn is None:
            raise NotFoundError(f"conversation {conversation.id!r} has no turn {feedback.turn}")
        sources = [s["id"] for s in turn.response.get("sources", [])]
        if feedback.record_id is not None and feedback.record_id not in sources:
            raise NotFoundError(f"record {feedback.record_id!r} is not a source of turn {feedback.turn}")
        judged = (conversation.id, turn.n, *standalone(turn.question, turn.interpretation), int(bool(turn.response.get("abstained"))), json.dumps(sources))
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute("INSERT OR IGNORE INTO judged_turns VALUES (?, ?, ?, ?, ?, ?, ?)", judged)
                self._db.execute(
                    "INSERT INTO votes VALUES (?, ?, ?, ?, ?) ON CONFLICT (conversation_id, turn, record_id) "
                    "DO UPDATE SET vote = excluded.vote, updated_at = excluded.updated_at",
                    (conversation.id, turn.n, feedback.record_id or ANSWER, feedback.vote, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())),
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return feedback

    def votes(self, conversation_id: str) -> list[Feedback]:
        with self._lock:
            rows = self._db.execute(
                "SELECT turn, record_id, vote FROM votes WHERE conversation_id = ? ORDER BY turn, record_id", (conversation_id,)
            ).fetchall()
        return [Feedback(conversation_id=conversation_id, turn=t, record_id=r or None, vote=v) for t, r, v in rows]

    def judged_turns(self) -> list["JudgedTurn"]:
        with self._lock:
            turns = self._db.execute("SELECT * FROM judged_turns ORDER BY rowid").fetchall()
            votes = self._db.execute("SELECT conversation_id, turn, record_id, vote FROM votes").fetchall()
        by_turn: dict[tuple[str, int], dict[str, int]] = {}
        for cid, n, record_id, vote in votes:
            by_turn.setdefault((cid, n), {})[record_id] = vote
        return [
            JudgedTurn(cid, n, question, date_from, date_to, bool(abstained), json.loads(sources), by_turn.get((cid, n), {}))
            for cid, n, question, date_from, date_to, abstained, sources in turns
        ]


@dataclass
class JudgedTurn:
    conversation_id: str
    turn: int
    question: str
    date_from: str | None
    date_to: str | None
    abstained: bool
    sources: list[str]
    votes: dict[str, int]  # record id (ANSWER for the answer) -> +1 / -1

    def grades(self) -> dict[str, int]:
        """Relevance grades the votes support, BEIR-style (2 answers it, 1 relevant):
        - a source voted up is relevant: 2 when the answer was voted up too, else 1;
        - a source voted down is not relevant (left out of the qrels);
        - an answer voted up with no source votes endorses all its sources (1 each):
          the reader approved an answer built only from them. Once any source has a
          vote, only source votes count: the reader singled those out."""
        answer = self.votes.get(ANSWER)
        voted = {r: v for r, v in self.votes.items() if r != ANSWER}
        if not voted:
            return {r: 1 for r in self.sources} if answer == 1 else {}
        return {r: 2 if answer == 1 else 1 for r in self.sources if voted.get(r) == 1}

    @property
    def confirms_abstention(self) -> bool:
        """The collection holds nothing on this, and the reader agrees."""
        return self.abstained and self.votes.get(ANSWER) == 1


@dataclass
class ExportedQuery:
    text: str
    date_from: str | None
    date_to: str | None
    grades: dict[str, int] = field(default_factory=dict)
    unanswerable: bool = True
    turns: list[tuple[str, int]] = field(default_factory=list)

    @property
    def id(self) -> str:
        key = f"{_key(self.text)}|{self.date_from or ''}|{self.date_to or ''}"
        return "fb-" + hashlib.sha1(key.encode("utf-8")).hexdigest()[:12]


@dataclass
class ExportReport:
    path: Path
    votes: int
    queries: int
    answerable: int
    unanswerable: int
    judgements: int
    needs_judging: int

    def summary(self) -> str:
        return (
            f"wrote {self.path}: {self.queries} quer{'y' if self.queries == 1 else 'ies'} "
            f"({self.answerable} answerable, {self.unanswerable} unanswerable), "
            f"{self.judgements} relevance judgements from {self.votes} votes; "
            f"{self.needs_judging} question(s) in needs-judging.jsonl want a curator"
        )


def _key(text: str) -> str:
    return " ".join(text.split()).casefold()


def build_suite(turns: list[JudgedTurn]) -> tuple[list[ExportedQuery], list[dict]]:
    """Queries for the suite, and the turns the votes cannot turn into judgements.

    The same question (same words, same explicit dates) asked in several
    conversations is one query: grades merge by maximum (a record one reader
    found relevant is relevant), and it is unanswerable only if no turn found
    a relevant record. A downvoted answer with no upvoted source says that
    retrieval failed, not which record would have answered; marking it
    unanswerable would reward abstaining, so it goes to needs-judging instead.
    """
    queries: dict[tuple[str, str | None, str | None], ExportedQuery] = {}
    needs: list[dict] = []
    for turn in turns:
        grades = turn.grades()
        if not grades and not turn.confirms_abstention:
            if turn.votes:
                needs.append({
                    "question": turn.question, "conversation_id": turn.conversation_id, "turn": turn.turn,
                    "date_from": turn.date_from, "date_to": turn.date_to, "abstained": turn.abstained,
                    "not_relevant": sorted(r for r, v in turn.votes.items() if r != ANSWER and v == -1),
                })
            continue
        query = queries.setdefault((_key(turn.question), turn.date_from, turn.date_to), ExportedQuery(turn.question, turn.date_from, turn.date_to))
        query.turns.append((turn.conversation_id, turn.turn))
        for record_id, grade in grades.items():
            query.grades[record_id] = max(grade, query.grades.get(record_id, 0))
        query.unanswerable = query.unanswerable and not grades
    for query in queries.values():
        if query.grades:
            query.unanswerable = False
    return list(queries.values()), needs


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")


def export_suite(store_path: Path, out: Path) -> ExportReport:
    """Write the votes in ``store_path`` as a suite in ``out`` (queries.jsonl,
    qrels/test.tsv, needs-judging.jsonl, README.md)."""
    if not store_path.is_file():
        raise InvalidInputError(f"no feedback yet: {store_path} does not exist (readers vote on the chat page)")
    store = FeedbackStore(store_path)
    try:
        turns = store.judged_turns()
    finally:
        store.close()
    queries, needs = build_suite(turns)
    if not queries:
        raise InvalidInputError(
            f"the feedback in {store_path} makes no suite yet: {len(turns)} judged answer(s), none with an upvoted source "
            "or a confirmed abstention"
        )
    (out / "qrels").mkdir(parents=True, exist_ok=True)
    rows = []
    for q in queries:
        row = {"_id": q.id, "text": q.text, "answerable": not q.unanswerable, "kind": "feedback"}
        row.update({k: v for k, v in (("date_from", q.date_from), ("date_to", q.date_to)) if v})
        rows.append(row)
    _write_jsonl(out / "queries.jsonl", rows)
    lines = ["query-id\tcorpus-id\tscore"]
    lines += [f"{q.id}\t{record_id}\t{grade}" for q in queries for record_id, grade in sorted(q.grades.items())]
    (out / "qrels" / "test.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    _write_jsonl(out / "needs-judging.jsonl", needs)
    (out / "README.md").write_text(README.format(when=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), source=store_path), encoding="utf-8")
    return ExportReport(
        path=out,
        votes=sum(len(t.votes) for t in turns),
        queries=len(queries),
        answerable=sum(not q.unanswerable for q in queries),
        unanswerable=sum(q.unanswerable for q in queries),
        judgements=sum(len(q.grades) for q in queries),
        needs_judging=len(needs),
    )


README = """# Suite from readers' feedback

Exported by `docent feedback export` on {when} from {source}.

- `queries.jsonl`: one query per distinct question, with `date_from`/`date_to`
  when the reader set the date filter; a follow-up ("And in 1951?") appears as
  the topic it was read with plus its dates. `"answerable": false` where the
  answer abstained and the reader voted it up.
- `qrels/test.tsv`: a source voted up scores 2 if its answer was voted up too,
  else 1; an answer voted up with no source votes gives each of its sources 1;
  a source voted down is left out (not relevant).
- `needs-judging.jsonl`: answers voted down with no source voted up. The
  votes say what failed, not which record answers; a curator who finds it can
  add the question here by hand.

Evaluate with: `docent eval DIR --records RECORDS`.
"""
