"""Hybrid retrieval: dense (FAISS) and lexical (SQLite FTS5 BM25), then one score.

Dense vectors find paraphrases; BM25 finds what historians search by: names,
code names, document numbers. The union of both lists is scored by a fixed
sum of signals (service.rerank: cosine, relative BM25, coverage of the
question's words, similarity to the best records' centroid and to the best
record's words). A date
constraint widens both lists with the records of the requested period and
then ranks by how well each record's date fits it. Every candidate carries
its cosine similarity to the question, which the abstention decision uses.
Mode "rrf" keeps the earlier reciprocal rank fusion for comparison.
"""

from __future__ import annotations

from concurrent.futures import Executor, Future
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from corpus.model import Record
from embeddings.collection import Collection
from embeddings.batching import encode_overlapped
from embeddings.encoder import Encoder
from embeddings.ranges import date_fits, dense_in_range, lexical_with_range, period
from embeddings.store import decode_record
from embeddings.vectors import gather
from service import rerank
from service.interpret import Interpretation

RRF_K = 60
# Depth of each list before fusion; fusion only ever looks at the head.
POOL = 100
MODES = ("hybrid", "dense", "lexical", "rrf")
# How a record's date fits a date constraint scales its fused score. A record
# dated only "1950" may answer a question about May 1950, but one dated in May
# 1950 should come first; an undated record is kept, lower; one dated outside
# the period stays findable under a question's dates (they may be loose: "the
# crisis of October 1956") but is dropped under an explicit date filter.
DATE_FIT = {"within": 1.0, "partial": 0.8, "undated": 0.6, "outside": 0.5}


@dataclass(frozen=True)
class Candidate:
    pos: int
    # The record, or its JSON as stored, decoded when first read: an answer
    # reads a dozen of its fifty candidates.
    stored: Record | str
    cosine: float
    fused: float
    dense_rank: int | None
    lexical_rank: int | None
    date_fit: str | None = None

    @cached_property
    def record(self) -> Record:
        return self.stored if isinstance(self.stored, Record) else decode_record(self.stored)


def date_fit(earliest: str | None, latest: str | None, date_from: str | None, date_to: str | None) -> str:
    if earliest is None or latest is None:
        return "undated"
    if (date_from and latest < date_from) or (date_to and earliest > date_to):
        return "outside"
    if (not date_from or earliest >= date_from) and (not date_to or latest <= date_to):
        return "within"
    return "partial"


def _ranks(scores: dict[int, float]) -> dict[int, int]:
    ordered = sorted(scores, key=lambda pos: (-scores[pos], pos))
    return {pos: rank for rank, pos in enumerate(ordered, start=1)}


class Retriever:
    """``pool``, when given, runs the lexical side beside the encoding of the
    question: the BM25 search, reading its hits' stems and weighing the
    question's words need only the words, and SQLite and torch both release
    the GIL, so on two cores their cost disappears behind the encode. It
    starts once the question is on its way to the model (encode_overlapped)."""

    def __init__(self, encoder: Encoder, collection: Collection, pool: Executor | None = None) -> None:
        self.encoder = encoder
        self.collection = collection
        self.pool = pool

    def _dense(self, vector: np.ndarray, depth: int, date_from: str | None, date_to: str | None) -> dict[int, float]:
        scores = {hit.pos: hit.score for hit in self.collection.search(vector, depth)}
        if date_from or date_to:
            scores.update((hit.pos, hit.score) for hit in dense_in_range(self.collection, vector, depth, date_from, date_to))
        return scores

    def _lexical(self, terms: list[str], depth: int, date_from: str | None, date_to: str | None) -> dict[int, float]:
        if not (date_from or date_to):
            return dict(self.collection.store.lexical(terms, depth))
        overall, within = lexical_with_range(self.collection.store, terms, depth, date_from, date_to)
        return dict(overall + within)

    def _lexical_side(self, interpretation: Interpretation, depth: int, mode: str) -> tuple[dict[int, float], dict[int, tuple[bytes, str]], tuple | None]:
        """The lexical list and, for the second stage of "hybrid", its hits'
        stems and stored records (RecordStore.pooled_rows) and the question's
        weighed words (service.rerank). A date
        constraint's period is made ready here too, for the dense search
        that follows the encode."""
        date_from, date_to = interpretation.date_from, interpretation.date_to
        if (date_from or date_to) and mode != "lexical":
            period(self.collection, date_from, date_to)
        lexical = self._lexical(interpretation.lexical_terms, depth, date_from, date_to) if mode != "dense" else {}
        if mode != "hybrid":
            return lexical, {}, None
        units = rerank.query_units(interpretation)
        for unit in units:
            unit.ids = self.collection.store.stem_ids(unit.stems)
        weights = rerank.unit_weights(self.collection.store, units, self.collection.count)
        return lexical, self.collection.store.pooled_rows(list(lexical)), (units, weights)

    def retrieve(self, interpretation: Interpretation, k: int, mode: str = "hybrid", *, strict_dates: bool = False) -> list[Candidate]:
        """Best ``k`` candidates. ``mode`` "dense" or "lexical" runs one side
        alone (the baselines the evaluation compares against); "rrf" fuses
        the two by reciprocal rank instead of the second-stage score."""
        depth = max(k, POOL)
        date_from, date_to = interpretation.date_from, interpretation.date_to
        pending: list[Future] = []
        if self.pool is not None and mode != "dense":

            def start() -> None:
                pending.append(self.pool.submit(self._lexical_side, interpretation, depth, mode))

            vector = encode_overlapped(self.encoder, [interpretation.query], start)[0]
        else:
            vector = self.encoder.encode([interpretation.query])[0]
        dense = self._dense(vector, depth, date_from, date_to) if mode != "lexical" else {}
        lexical, fetched, words = pending[0].result() if pending else self._lexical_side(interpretation, depth, mode)
        dense_rank, lexical_rank = _ranks(dense), _ranks(lexical)
        pooled_ids = list(dict.fromkeys((*dense_rank, *lexical_rank)))
        # The pool as arrays from here on: a few hundred candidates, each step one numpy pass.
        pool = np.array(pooled_ids, dtype=np.int64)
        rows, cosine, read = None, None, {}
        if mode == "hybrid" and pooled_ids:
            rows = self._rows(pool)
            cosine = rows @ vector
            read = fetched | self.collection.store.pooled_rows([pos for pos in pooled_ids if pos not in fetched])
            stems = {pos: words for pos, (words, _) in read.items()}
            pooled = rerank.PoolWords([stems[pos] for pos in pooled_ids])
            fused = self._scores(words, pooled_ids, cosine, lexical, pooled)
        else:
            fused = np.array([1.0 / (RRF_K + dense_rank[p]) if p in dense_rank else 0.0 for p in pooled_ids])
            fused += [1.0 / (RRF_K + lexical_rank[p]) if p in lexical_rank else 0.0 for p in pooled_ids]
        fits, scale = self._fit(pooled_ids, date_from, date_to)
        fused *= scale
        keep = np.arange(len(pool))
        if strict_dates and fits is not None:
            keep = np.flatnonzero([fit != "outside" for fit in fits])
        if mode == "hybrid" and len(keep) > 1:
            kept = pooled if len(keep) == len(pool) else rerank.PoolWords([stems[pos] for pos in pool[keep].tolist()])
            fused[keep] += self._feedback(fused[keep], scale[keep], rows[keep], kept, pool[keep], stems)
        best = keep[np.lexsort((pool[keep], -fused[keep]))][:k]
        positions = pool[best].tolist()
        cosines = cosine[best].tolist() if cosine is not None else self.collection.cosines(vector, positions)
        records = {pos: read[pos][1] for pos in positions if pos in read}
        records |= self.collection.store.stored_by_positions([pos for pos in positions if pos not in records])
        return [
            Candidate(pos, records[pos], float(cos), float(fused[i]), dense_rank.get(pos), lexical_rank.get(pos), None if fits is None else fits[i])
            for i, pos, cos in zip(best.tolist(), positions, cosines)
        ]

    def _rows(self, positions: np.ndarray) -> np.ndarray:
        """The vectors of a few hundred candidates, gathered once: every
        similarity the second stage needs is then one small product."""
        return gather(self.collection.vectors(), positions)

    def _fit(self, pool: list[int], date_from: str | None, date_to: str | None) -> tuple[list[str | None] | None, np.ndarray]:
        """How each pooled record's date fits the constraint (None without
        one), and the factor that scales its score."""
        if not (date_from or date_to):
            return None, np.ones(len(pool))
        fits = date_fits(self.collection.store, pool, date_from, date_to)
        return fits, np.array([1.0 if fit is None else DATE_FIT[fit] for fit in fits])

    def _scores(self, words: tuple, pool: list[int], cosine: np.ndarray, lexical: dict[int, float], pooled: rerank.PoolWords) -> np.ndarray:
        """First-stage scores of the pooled candidates: cosine + BM25 + coverage (service.rerank)."""
        units, weights = words
        cover = rerank.coverage(pooled, units, weights)
        bm25 = np.array([lexical.get(pos, 0.0) for pos in pool])
        # Kept positive, so that scaling by the date fit always lowers a score.
        return np.maximum(rerank.first_stage(cosine, bm25, cover), 1e-6)

    def _feedback(self, fused: np.ndarray, scale: np.ndarray, rows: np.ndarray, pooled: rerank.PoolWords, positions: np.ndarray, stems: dict[int, bytes]) -> np.ndarray:
        """What to add to each candidate's score: the similarity to the head of
        the ranking, to the centroid of its vectors and to the words of its
        best record, scaled by the same date fit as the rest of the score.
        ``rows`` and ``pooled`` are the candidates' vectors and stems."""
        head = np.lexsort((positions, -fused))[: rerank.FEEDBACK_DEPTH]
        mean = rerank.centroid(rows[head])
        shared = rerank.word_feedback(np.frombuffer(stems[int(positions[head[0]])], dtype=np.int32), pooled)
        near = rows @ mean if mean is not None else np.zeros(len(positions))
        return (rerank.WEIGHT_CENTROID * near + rerank.WEIGHT_WORDS * shared) * scale
