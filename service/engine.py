"""The answering engine shared by the HTTP service and the CLI.

``Docent`` owns the loaded encoder and collection. It validates questions
against the settings, retrieves, selects the sources worth citing and
composes the answer; the HTTP handlers and CLI commands are thin wrappers.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from corpus.errors import InvalidInputError, NotFoundError
from corpus.loaders import load_files
from corpus.model import Record
from embeddings.collection import Collection, current_generation
from embeddings.encoder import Encoder, load_encoder
from embeddings.ingest import ingest
from service.answer import chronological, compose, compose_abstention
from service.schemas import AskResponse, Searched, SearchResult, Source
from service.retrieval import Candidate, Retriever
from service.settings import Settings

log = logging.getLogger("docent")

SAMPLE_CORPUS = Path(__file__).resolve().parent.parent / "corpus" / "sample" / "records.jsonl"
SEARCH_DEFAULT_K = 10
# Candidates retrieved before the relevance cut; more than any k so the cut sees the whole head.
ASK_CANDIDATES = 50


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
    }


def select_sources(candidates: list[Candidate], k: int, min_score: float) -> list[Candidate]:
    """The candidates /ask cites: the best ``k`` relevant enough to cite. None
    means the answer abstains; the evaluation uses this same decision."""
    return [c for c in candidates if c.cosine >= min_score][:k]


def ensure_index(settings: Settings, encoder: Encoder, progress: bool = False) -> None:
    """With no index in the data directory, build one from the bundled sample corpus."""
    if current_generation(settings.data_dir) is not None or not settings.sample_when_empty:
        return
    log.warning("no index in %s: ingesting the bundled sample corpus (%s)", settings.data_dir, SAMPLE_CORPUS.name)
    records = load_files([SAMPLE_CORPUS]).records
    ingest(settings.data_dir, records, encoder, batch_size=settings.batch_size, progress=progress)


class Docent:
    def __init__(self, settings: Settings, encoder: Encoder, collection: Collection) -> None:
        self.settings = settings
        self.encoder = encoder
        self.collection = collection
        self.retriever = Retriever(encoder, collection)

    @classmethod
    def open(cls, settings: Settings, encoder: Encoder | None = None) -> "Docent":
        encoder = encoder or load_encoder(settings.model, settings.device)
        ensure_index(settings, encoder, progress=sys.stderr.isatty())
        collection = Collection.open(settings.data_dir, model=encoder.name, dimension=encoder.dimension, verify=settings.verify_index)
        return cls(settings, encoder, collection)

    def close(self) -> None:
        self.collection.close()

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

    def search(self, question: str, k: int | None = None) -> list[SearchResult]:
        question, k = self._check(question, k, SEARCH_DEFAULT_K, self.settings.max_k_search)
        hits = self.retriever.retrieve(question, k)
        return [SearchResult(rank=i, **source_fields(c.record, c.cosine)) for i, c in enumerate(hits, start=1)]

    def ask(self, question: str, k: int | None = None) -> AskResponse:
        question, k = self._check(question, k, self.settings.default_k, self.settings.max_k_ask)
        hits = self.retriever.retrieve(question, max(k, ASK_CANDIDATES))
        best = max((c.cosine for c in hits), default=None)
        cited = select_sources(hits, k, self.settings.min_score)
        searched = self._searched(best)
        if not cited:
            answer = compose_abstention(question, searched.records, searched.earliest, searched.latest, best)
            return AskResponse(question=question, answer=answer, sources=[], abstained=True, searched=searched)
        scores = {c.record.id: c.cosine for c in cited}
        ordered = chronological([c.record for c in cited])
        sources = [Source(n=n, **source_fields(r, scores[r.id])) for n, r in enumerate(ordered, start=1)]
        return AskResponse(question=question, answer=compose(question, ordered), sources=sources, abstained=False, searched=searched)

    def _searched(self, best: float | None) -> Searched:
        span = self.collection.manifest.get("date_span") or [None, None]
        return Searched(
            records=self.collection.count,
            earliest=span[0],
            latest=span[1],
            undated=int(self.collection.manifest.get("undated", 0)),
            best_score=None if best is None else round(best, 4),
            min_score=self.settings.min_score,
        )

    def record(self, record_id: str) -> Record:
        record = self.collection.store.by_id(record_id)
        if record is None:
            raise NotFoundError(f"no record with id {record_id!r} in this collection")
        return record

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

