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

from concurrent.futures import Executor
from dataclasses import dataclass

import numpy as np

from corpus.model import Record
from embeddings.collection import Collection
from embeddings.encoder import Encoder
from embeddings.ranges import date_fits, dense_in_range, lexical_with_range
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
    record: Record
    cosine: float
    fused: float
    dense_rank: int | None
    lexical_rank: int | None
    date_fit: str | None = None


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
    the GIL, so on two cores their cost disappears behind the encode."""

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

    def _lexical_side(self, interpretation: Interpretation, depth: int, mode: str) -> tuple[dict[int, float], dict[int, np.ndarray], tuple | None]:
        """The lexical list and, for the second stage of "hybrid", its hits'
        stems and the question's weighed words (service.rerank)."""
        date_from, date_to = interpretation.date_from, interpretation.date_to
        lexical = self._lexical(interpretation.lexical_terms, depth, date_from, date_to) if mode != "dense" else {}
        if mode != "hybrid":
            return lexical, {}, None
        units = rerank.query_units(interpretation)
        for unit in units:
            unit.ids = self.collection.store.stem_ids(unit.stems)
        weights = rerank.unit_weights(self.collection.store, units, self.collection.count)
        return lexical, self.collection.store.word_ids(list(lexical)), (units, weights)

    def retrieve(self, interpretation: Interpretation, k: int, mode: str = "hybrid", *, strict_dates: bool = False) -> list[Candidate]:
        """Best ``k`` candidates. ``mode`` "dense" or "lexical" runs one side
        alone (the baselines the evaluation compares against); "rrf" fuses
        the two by reciprocal rank instead of the second-stage score."""
        depth = max(k, POOL)
        date_from, date_to = interpretation.date_from, interpretation.date_to
        pending = self.pool.submit(self._lexical_side, interpretation, depth, mode) if self.pool is not None and mode != "dense" else None
        vector = self.encoder.encode([interpretation.query])[0]
        dense = self._dense(vector, depth, date_from, date_to) if mode != "lexical" else {}
        lexical, fetched, words = pending.result() if pending is not None else self._lexical_side(interpretation, depth, mode)
        dense_rank, lexical_rank = _ranks(dense), _ranks(lexical)
        pool = list(dict.fromkeys((*dense_rank, *lexical_rank)))
        cosine: dict[int, float] = {}
        if mode == "hybrid" and pool:
            rows = self._rows(pool)
            cosine = dict(zip(pool, (rows @ vector).tolist()))
            stems = fetched | self.collection.store.word_ids([pos for pos in pool if pos not in fetched])
            fused = self._scores(words, pool, cosine, lexical, stems)
        else:
            fused = {pos: 0.0 for pos in pool}
            for ranks in (dense_rank, lexical_rank):
                for pos, rank in ranks.items():
                    fused[pos] += 1.0 / (RRF_K + rank)
        fits = self._fit(fused, date_from, date_to)
        if strict_dates:
            fused = {pos: s for pos, s in fused.items() if fits[pos] != "outside"}
        if mode == "hybrid" and len(fused) > 1:
            self._feedback(fused, fits, pool, rows, stems)
        best = sorted(fused, key=lambda pos: (-fused[pos], pos))[:k]
        cosines = [cosine[pos] for pos in best] if cosine else self.collection.cosines(vector, best)
        records = self.collection.store.by_positions(best)
        return [
            Candidate(pos, records[pos], float(cos), fused[pos], dense_rank.get(pos), lexical_rank.get(pos), fits[pos])
            for pos, cos in zip(best, cosines)
        ]

    def _rows(self, positions: list[int]) -> np.ndarray:
        """The vectors of a few hundred candidates, gathered once: every
        similarity the second stage needs is then one small product."""
        return gather(self.collection.vectors(), positions)

    def _fit(self, fused: dict[int, float], date_from: str | None, date_to: str | None) -> dict[int, str | None]:
        """Scale each score by how the record's date fits the constraint (in place)."""
        if not (date_from or date_to):
            return {pos: None for pos in fused}
        fits = dict(zip(fused, date_fits(self.collection.store, list(fused), date_from, date_to)))
        for pos, fit in fits.items():
            if fit is not None:
                fused[pos] *= DATE_FIT[fit]
        return fits

    def _scores(self, words: tuple, pool: list[int], cosine: dict[int, float], lexical: dict[int, float], stems: dict[int, np.ndarray]) -> dict[int, float]:
        """First-stage scores of the pooled candidates: cosine + BM25 + coverage (service.rerank)."""
        units, weights = words
        cover = rerank.coverage(rerank.PoolWords([stems[pos] for pos in pool]), units, weights)
        bm25 = np.array([lexical.get(pos, 0.0) for pos in pool])
        scores = rerank.first_stage(np.array([cosine[pos] for pos in pool]), bm25, cover)
        # Kept positive, so that scaling by the date fit always lowers a score.
        return dict(zip(pool, np.maximum(scores, 1e-6).tolist()))

    def _feedback(self, fused: dict[int, float], fits: dict[int, str | None], pooled: list[int], rows: np.ndarray, stems: dict[int, np.ndarray]) -> None:
        """Add the similarity to the head of the ranking (in place): to the
        centroid of its vectors and to the words of its best record, scaled
        by the same date fit as the rest of the score. ``rows`` are the
        vectors of ``pooled``, of which ``fused`` holds all or some."""
        row = {pos: i for i, pos in enumerate(pooled)}
        head = sorted(fused, key=lambda pos: (-fused[pos], pos))[: rerank.FEEDBACK_DEPTH]
        mean = rerank.centroid(rows[[row[pos] for pos in head]])
        pool = list(fused)
        shared = rerank.word_feedback(stems[head[0]], rerank.PoolWords([stems[pos] for pos in pool])).tolist()
        dense = (rows[[row[pos] for pos in pool]] @ mean).tolist() if mean is not None else [0.0] * len(pool)
        for pos, words, near in zip(pool, shared, dense):
            fused[pos] += (rerank.WEIGHT_CENTROID * near + rerank.WEIGHT_WORDS * words) * DATE_FIT[fits.get(pos) or "within"]
