"""Evaluation suites in the BEIR layout, and TREC run files.

A suite is a folder::

    queries.jsonl        {"_id", "text"} + optional "date_from", "date_to" (ISO),
                         "answerable" (false: no record answers it), "kind"
    qrels/<split>.tsv    header "query-id<TAB>corpus-id<TAB>score"; 2 = answers it, 1 = relevant
    corpus.jsonl         optional: the records the suite is over (BEIR: _id, title, text)

Errors name the file and line.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from corpus.errors import InvalidInputError


@dataclass(frozen=True)
class Query:
    id: str
    text: str
    answerable: bool = True
    date_from: str | None = None
    date_to: str | None = None
    kind: str = ""


@dataclass
class Suite:
    path: Path
    split: str
    queries: list[Query]
    qrels: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def answerable(self) -> list[Query]:
        return [q for q in self.queries if q.answerable]

    @property
    def unanswerable(self) -> list[Query]:
        return [q for q in self.queries if not q.answerable]

    @property
    def corpus_file(self) -> Path | None:
        path = self.path / "corpus.jsonl"
        return path if path.is_file() else None


def _bad(path: Path, line: int, message: str) -> InvalidInputError:
    return InvalidInputError(f"{path}, line {line}: {message}")


def load_queries(path: Path) -> list[Query]:
    queries: list[Query] = []
    seen: set[str] = set()
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                raw = json.loads(line)
            except json.JSONDecodeError as exc:
                raise _bad(path, number, f"not valid JSON ({exc.msg})") from None
            if not isinstance(raw, dict):
                raise _bad(path, number, "expected a JSON object")
            qid, text = raw.get("_id"), raw.get("text")
            if not isinstance(qid, str) or not qid:
                raise _bad(path, number, "field '_id' is missing or not text")
            if not isinstance(text, str) or not text.strip():
                raise _bad(path, number, "field 'text' is missing or empty")
            if qid in seen:
                raise _bad(path, number, f"duplicate query id {qid!r}")
            answerable = raw.get("answerable", True)
            if not isinstance(answerable, bool):
                raise _bad(path, number, "field 'answerable' must be true or false")
            for key in ("date_from", "date_to"):
                value = raw.get(key)
                if value is not None and (not isinstance(value, str) or len(value) != 10 or value[4] != "-" or value[7] != "-"):
                    raise _bad(path, number, f"field '{key}' must be an ISO date YYYY-MM-DD")
            seen.add(qid)
            queries.append(Query(qid, text.strip(), answerable, raw.get("date_from"), raw.get("date_to"), str(raw.get("kind", ""))))
    if not queries:
        raise InvalidInputError(f"{path}: no queries")
    return queries


def load_qrels(path: Path) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = {}
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            cells = line.rstrip("\n").split("\t")
            if number == 1 and cells[0].strip().lower() in ("query-id", "query_id", "qid"):
                continue
            if len(cells) != 3:
                raise _bad(path, number, f"expected 3 tab-separated cells (query-id, corpus-id, score), got {len(cells)}")
            qid, doc, score = (c.strip() for c in cells)
            try:
                grade = int(score)
            except ValueError:
                raise _bad(path, number, f"score {score!r} is not an integer") from None
            if not qid or not doc:
                raise _bad(path, number, "empty query-id or corpus-id")
            qrels.setdefault(qid, {})[doc] = grade
    return qrels


def load_suite(path: str | Path, split: str = "test") -> Suite:
    path = Path(path)
    queries_file, qrels_file = path / "queries.jsonl", path / "qrels" / f"{split}.tsv"
    for required in (queries_file, qrels_file):
        if not required.is_file():
            raise InvalidInputError(f"{path} is not a suite: {required} is missing (see docs/evaluation.md)")
    queries = load_queries(queries_file)
    qrels = load_qrels(qrels_file)
    known = {q.id for q in queries}
    unknown = sorted(set(qrels) - known)
    if unknown:
        raise InvalidInputError(f"{qrels_file}: query ids not in queries.jsonl: {', '.join(unknown[:5])}")
    for q in queries:
        if q.answerable and not any(g > 0 for g in qrels.get(q.id, {}).values()):
            raise InvalidInputError(f"{queries_file}: query {q.id!r} is answerable but has no relevant record in {qrels_file.name}")
        if not q.answerable and qrels.get(q.id):
            raise InvalidInputError(f"{queries_file}: query {q.id!r} is marked unanswerable but has qrels")
    return Suite(path, split, queries, qrels)


def write_trec_run(path: Path, run: dict[str, dict[str, float]], name: str) -> None:
    with path.open("w", encoding="utf-8") as handle:
        for qid, docs in run.items():
            ranked = sorted(docs.items(), key=lambda kv: -kv[1])
            for rank, (doc, score) in enumerate(ranked, start=1):
                handle.write(f"{qid} Q0 {doc} {rank} {score:.6f} {name}\n")


def read_trec_run(path: Path) -> dict[str, dict[str, float]]:
    run: dict[str, dict[str, float]] = {}
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            cells = line.split()
            if len(cells) != 6:
                raise _bad(path, number, "a TREC run line has 6 fields: qid Q0 doc rank score tag")
            try:
                run.setdefault(cells[0], {})[cells[2]] = float(cells[4])
            except ValueError:
                raise _bad(path, number, f"score {cells[4]!r} is not a number") from None
    return run
