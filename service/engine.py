"""The answering engine shared by the HTTP service and the CLI.

``Docent`` owns the loaded encoder and collection. It validates questions
against the settings, retrieves, selects the sources worth citing and
composes the answer; the HTTP handlers and CLI commands are thin wrappers.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import msgspec
import numpy as np

from corpus.aliases import AliasTable, load_aliases
from corpus.caveats import CODES, caveats_for
from corpus.dates import DateParseError, parse_date
from corpus.errors import InvalidInputError, NotFoundError
from corpus.loaders import load_files
from corpus.model import Record
from embeddings.collection import Collection, check_model, current_generation
from embeddings.encoder import Encoder, load_encoder
from embeddings.ingest import ingest
from embeddings.vectors import gather
from service import abstention
from service.answer import chronological, compose, compose_abstention
from service.schemas import (
    AnswerCaveat,
    AskRequest,
    AskResponse,
    RecordDetail,
    Searched,
    SearchRequest,
    SearchResponse,
    SearchResult,
    Source,
)
from service.conversations import ConversationStore
from service.interpret import Interpretation, PreviousTurn, interpret, previous_from
from service.retrieval import Candidate, Retriever
from service.settings import Settings

log = logging.getLogger("docent")

SAMPLE_CORPUS = Path(__file__).resolve().parent.parent / "corpus" / "sample" / "records.jsonl"
SEARCH_DEFAULT_K = 10
# Candidates retrieved before the relevance cut; more than any k so the cut sees the whole head.
ASK_CANDIDATES = 50
CONVERSATIONS = "conversations.sqlite"


def source_fields(record: Record, score: float) -> dict:
    return {
        "id": record.id,
        "title": record.title,
        "date": record.date,
        "earliest": record.earliest,
        "latest": record.latest,
        "precision": record.precision,
        "summary": record.summary,
        "notes": record.notes,
        "url": record.source_url or None,
        "record_url": f"/records/{record.id}",
        "repository": record.repository,
        "collection": record.collection,
        "score": round(score, 4),
        "caveats": caveats_for(record),
    }


def answer_caveats(sources: list[Source]) -> list[AnswerCaveat]:
    """The caveats of all sources, once per code, in the order of the rule table."""
    by_code: dict[str, AnswerCaveat] = {}
    for source in sources:
        for caveat in source.caveats:
            by_code.setdefault(caveat.code, AnswerCaveat(code=caveat.code, label=caveat.label, sources=[])).sources.append(source.n)
    return [by_code[code] for code in CODES if code in by_code]


# Two records whose vectors are this close say the same thing (the same
# abstract catalogued twice); citing both adds nothing.
NEAR_DUPLICATE = 0.98


# The best cosine reported to the reader is looked for this far down.
RELEVANCE_DEPTH = 10


def relevance(candidates: list[Candidate]) -> float | None:
    """The best cosine similarity among the top candidates whose date fits the
    question's dates (undated records count), reported in ``searched`` beside
    the citing floor ``min_score``. Whether to abstain is decided by
    ``service.abstention``."""
    fitting = [c.cosine for c in candidates[:RELEVANCE_DEPTH] if c.date_fit != "outside"]
    return max(fitting, default=None)


# Candidates whose scores are within this fraction of the best remaining one
# are equally relevant as far as retrieval can tell; among them the answer
# prefers a record from a side it does not cite yet.
TIED = 0.95
# "Telegram from X to Y", "Ciphered Telegram, X to Y", "Letter, X to Y": X wrote it.
_SENDER = re.compile(
    r"^[^,]*?\b(?:telegram|cable|letter|report|memorandum|note|message|dispatch|instructions?)\b(?:,\s*|\s+from\s+)(?P<sender>.+?)\s+to\s+",
    re.I,
)


def side(record: Record) -> str | None:
    """Whose record this is, as far as the catalogue says: the archive that
    holds it (the Soviet and the Chinese record of the same talks are kept in
    different archives), else its collection, else the language of the
    original, else the sender named in the title. None when nothing says."""
    for value in (record.repository, record.collection, record.language):
        if value.strip():
            return value.strip().lower()
    match = _SENDER.search(record.title)
    return " ".join(match.group("sender").lower().split()) if match else None


def answer_sources(candidates: list[Candidate], reading: Interpretation, k: int, settings: Settings, vectors=None) -> tuple[abstention.Support, list[Candidate]]:
    """What /ask cites, and the support it was decided on: nothing when the
    collection does not support an answer (``service.abstention``, threshold
    ``min_support``), else ``select_sources`` — which is also nothing when no
    record reaches the cosine floor ``min_score``. The evaluation measures
    this same decision."""
    found = abstention.support(candidates, reading)
    if abstention.abstains(found, settings.min_support):
        return found, []
    return found, select_sources(candidates, k, settings.min_score, vectors)


class _Lazy(dict):
    """``compute(i)`` for each key ``i`` the first time it is read."""

    def __init__(self, compute) -> None:
        super().__init__()
        self.compute = compute

    def __missing__(self, key):
        self[key] = value = self.compute(key)
        return value


def select_sources(candidates: list[Candidate], k: int, min_score: float, vectors=None) -> list[Candidate]:
    """The candidates worth citing: the best ``k`` whose cosine reaches
    ``min_score`` (none may), near-duplicates collapsed, and among equally
    relevant ones (scores within ``TIED``) a record from a side not yet
    cited before a second one from the same side. ``candidates`` come best
    first."""
    remaining = [c for c in candidates if c.cosine >= min_score]
    # Read only for the candidates a pick looks at (each reads its record).
    sides = _Lazy(lambda i: side(remaining[i].record))
    # Gathered once: each pick then drops its near-duplicates with one
    # product instead of reading memory-mapped rows pair by pair.
    rows = gather(vectors, [c.pos for c in remaining]) if vectors is not None and remaining else None
    open_ = np.ones(len(remaining), dtype=bool)
    chosen: list[int] = []
    covered: set[str] = set()
    while len(chosen) < k and open_.any():
        order = np.flatnonzero(open_)
        top = pick = int(order[0])
        if sides[top] in covered:
            tied = (int(i) for i in order if remaining[i].fused >= TIED * remaining[top].fused)
            pick = next((i for i in tied if sides[i] not in covered), top)
        chosen.append(pick)
        open_[pick] = False
        if sides[pick] is not None:
            covered.add(sides[pick])
        if rows is not None:
            open_ &= rows @ rows[pick] < NEAR_DUPLICATE
    return [remaining[i] for i in chosen]


def parse_bound(value: str | None, field: str, end: bool) -> str | None:
    """An explicit date bound: an ISO date, or any catalogue form ("May 1950", "1950")."""
    if value is None or not value.strip():
        return None
    try:
        parsed = parse_date(value)
    except DateParseError as exc:
        raise InvalidInputError(f"{field}: {exc}") from None
    if parsed.undated:
        raise InvalidInputError(f"{field}: {value!r} is not a date")
    return parsed.latest if end else parsed.earliest


def ensure_index(settings: Settings, encoder: Encoder, progress: bool = False) -> None:
    """With no index in the data directory, build one from the bundled sample corpus."""
    if current_generation(settings.data_dir) is not None or not settings.sample_when_empty:
        return
    log.warning("no index in %s: ingesting the bundled sample corpus (%s)", settings.data_dir, SAMPLE_CORPUS.name)
    records = load_files([SAMPLE_CORPUS]).records
    ingest(settings.data_dir, records, encoder, batch_size=settings.batch_size, progress=progress)


class Docent:
    def __init__(
        self,
        settings: Settings,
        encoder: Encoder,
        collection: Collection,
        aliases: AliasTable | None = None,
        conversations: ConversationStore | None = None,
    ) -> None:
        self.settings = settings
        self.encoder = encoder
        self.aliases = aliases
        self.conversations = conversations
        # One attribute holds the live index, so swapping in a new generation is
        # a single assignment: a request in flight keeps the one it started with.
        # Lexical searches run here beside the question's encoding (service.retrieval).
        self._pool = ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 1), thread_name_prefix="lexical")
        self.retriever = Retriever(encoder, collection, self._pool)
        self._reload_lock = threading.Lock()

    @property
    def collection(self) -> Collection:
        return self.retriever.collection

    def reload(self) -> bool:
        """Switch to the data directory's current generation if it changed
        (after `docent ingest` or an admin re-index). The old generation is
        released when the last request using it finishes."""
        with self._reload_lock:
            current = current_generation(self.settings.data_dir)
            if current is None or current == self.collection.path:
                return False
            fresh = Collection.open(self.settings.data_dir, model=self.encoder.name, dimension=self.encoder.dimension, verify=self.settings.verify_index)
            self.retriever = Retriever(self.encoder, fresh, self._pool)
            log.info("now serving %s (%d records)", fresh.path.name, fresh.count)
            return True

    @classmethod
    def open(cls, settings: Settings, encoder: Encoder | None = None, *, conversations: bool = False) -> "Docent":
        encoder = encoder or load_encoder(settings.model, settings.device)
        ensure_index(settings, encoder, progress=sys.stderr.isatty())
        # Opened before asking the encoder which model it runs: an encoder
        # process still loading its model (`docent serve`) answers only when
        # ready, and the index can be read and verified meanwhile.
        collection = Collection.open(settings.data_dir, verify=settings.verify_index)
        try:
            check_model(collection.path, collection.manifest, encoder.name, encoder.dimension)
        except BaseException:
            collection.close()
            raise
        store = ConversationStore(settings.data_dir / CONVERSATIONS) if conversations else None
        return cls(settings, encoder, collection, load_aliases(settings.aliases or None), store)

    def close(self) -> None:
        self._pool.shutdown()
        self.collection.close()
        if self.conversations is not None:
            self.conversations.close()

    def _check(self, question: str, k: int | None, default: int, limit: int) -> tuple[str, int]:
        question = " ".join(question.split())
        if not question:
            raise InvalidInputError("question is empty")
        if len(question) > self.settings.max_question_chars:
            raise InvalidInputError(f"question is {len(question)} characters long; the limit is {self.settings.max_question_chars}")
        k = default if k is None else k
        if not 1 <= k <= limit:
            raise InvalidInputError(f"k must be between 1 and {limit}, got {k}")
        return question, k

    def interpret(self, question: str, date_from: str | None = None, date_to: str | None = None, previous: PreviousTurn | None = None) -> Interpretation:
        date_from, date_to = parse_bound(date_from, "date_from", end=False), parse_bound(date_to, "date_to", end=True)
        if date_from and date_to and date_from > date_to:
            raise InvalidInputError(f"date_from ({date_from}) is after date_to ({date_to})")
        return interpret(question, self.aliases, date_from=date_from, date_to=date_to, previous=previous)

    def search(self, request: SearchRequest) -> SearchResponse:
        question, k = self._check(request.question, request.k, SEARCH_DEFAULT_K, self.settings.max_k_search)
        reading = self.interpret(question, request.date_from, request.date_to)
        retriever = self.retriever
        hits = retriever.retrieve(reading, k, strict_dates=reading.date_source == "request")
        results = [SearchResult(rank=i, **source_fields(c.record, c.cosine)) for i, c in enumerate(hits, start=1)]
        return SearchResponse(question=question, results=results, interpretation=reading)

    def ask(self, request: AskRequest) -> AskResponse:
        question, k = self._check(request.question, request.k, self.settings.default_k, self.settings.max_k_ask)
        previous = None
        if request.conversation_id is not None:
            if self.conversations is None:
                raise InvalidInputError("conversations are not kept here (the CLI answers one question at a time)")
            self.conversations.require(request.conversation_id)
            last = self.conversations.last_interpretation(request.conversation_id)
            previous = previous_from(msgspec.convert(last, Interpretation)) if last else None
        reading = self.interpret(question, request.date_from, request.date_to, previous)
        retriever = self.retriever
        hits = retriever.retrieve(reading, max(k, ASK_CANDIDATES), strict_dates=reading.date_source == "request")
        found, cited = answer_sources(hits, reading, k, self.settings, retriever.collection.vectors())
        response = self._answer(question, cited, (relevance(hits), found.score), reading, retriever.collection)
        if self.conversations is not None:
            conversation_id = request.conversation_id or self.conversations.create(title=question)
            response.conversation_id = conversation_id
            self.conversations.append(conversation_id, question, reading, response)
        return response

    def _answer(self, question: str, cited: list[Candidate], scores: tuple[float | None, float | None], reading: Interpretation, collection: Collection) -> AskResponse:
        searched = self._searched(scores, reading, collection)
        if not cited:
            answer = compose_abstention(question, searched)
            return AskResponse(question=question, answer=answer, sources=[], caveats=[], abstained=True, searched=searched, interpretation=reading)
        scores = {c.record.id: c.cosine for c in cited}
        ordered = chronological([c.record for c in cited])
        sources = [Source(n=n, **source_fields(r, scores[r.id])) for n, r in enumerate(ordered, start=1)]
        caveats = answer_caveats(sources)
        return AskResponse(
            question=question,
            answer=compose(reading.topic, ordered, caveats),
            sources=sources,
            caveats=caveats,
            abstained=False,
            searched=searched,
            interpretation=reading,
        )

    def _searched(self, scores: tuple[float | None, float | None], reading: Interpretation, collection: Collection) -> Searched:
        """``scores``: the best cosine in the question's period and the support."""
        best, support = scores
        span = collection.manifest.get("date_span") or [None, None]
        return Searched(
            records=collection.count,
            earliest=span[0],
            latest=span[1],
            undated=int(collection.manifest.get("undated", 0)),
            date_from=reading.date_from,
            date_to=reading.date_to,
            best_score=None if best is None else round(best, 4),
            min_score=self.settings.min_score,
            support=None if support is None else round(support, 4),
            min_support=self.settings.min_support,
        )

    def record(self, record_id: str) -> RecordDetail:
        record = self.collection.store.by_id(record_id)
        if record is None:
            raise NotFoundError(f"no record with id {record_id!r} in this collection")
        return RecordDetail(**msgspec.structs.asdict(record), caveats=caveats_for(record))

    def info(self) -> dict:
        m = self.collection.manifest
        return {
            "data_dir": str(self.settings.data_dir),
            "generation": self.collection.path.name,
            "model": m["model"],
            "dimension": m["dimension"],
            "records": m["record_count"],
            "date_span": m.get("date_span"),
            "undated": m.get("undated"),
            "index_type": m.get("index_type"),
            "corpus_checksum": m["corpus_checksum"],
            "created_at": m["created_at"],
            "versions": m.get("versions", {}),
        }

