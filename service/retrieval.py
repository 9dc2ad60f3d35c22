"""Hybrid retrieval: dense (FAISS) and lexical (SQLite FTS5 BM25), fused by rank.

Dense vectors find paraphrases; BM25 finds what historians search by: names,
code names, document numbers. Reciprocal rank fusion combines the two lists
without having to calibrate their scores against each other. Every candidate
also carries its cosine similarity to the question, the score the abstention
decision uses.
"""

from __future__ import annotations

from dataclasses import dataclass



from corpus.model import Record
from corpus.text import terms
from embeddings.collection import Collection
from embeddings.encoder import Encoder

RRF_K = 60
# Depth of each list before fusion; fusion only ever looks at the head.
POOL = 100
MODES = ("hybrid", "dense", "lexical")


@dataclass(frozen=True)
class Candidate:
    record: Record
    cosine: float
    fused: float
    dense_rank: int | None
    lexical_rank: int | None


class Retriever:
    def __init__(self, encoder: Encoder, collection: Collection) -> None:
        self.encoder = encoder
        self.collection = collection

    def retrieve(self, question: str, k: int, mode: str = "hybrid") -> list[Candidate]:
        """Best ``k`` candidates. ``mode`` "dense" or "lexical" runs one side
        alone (the baselines the evaluation compares against)."""
        vector = self.encoder.encode([question])[0]
        depth = max(k, POOL)
        dense = self.collection.search(vector, depth) if mode != "lexical" else []
        lexical = self.collection.store.lexical(terms(question), depth) if mode != "dense" else []
        fused: dict[int, float] = {}
        dense_rank: dict[int, int] = {}
        lexical_rank: dict[int, int] = {}
        for rank, hit in enumerate(dense, start=1):
            dense_rank[hit.pos] = rank
            fused[hit.pos] = fused.get(hit.pos, 0.0) + 1.0 / (RRF_K + rank)
        for rank, (pos, _) in enumerate(lexical, start=1):
            lexical_rank[pos] = rank
            fused[pos] = fused.get(pos, 0.0) + 1.0 / (RRF_K + rank)
        best = sorted(fused, key=lambda pos: (-fused[pos], pos))[:k]
        cosines = self.collection.cosines(vector, best)
        records = self.collection.store.by_positions(best)
        return [
            Candidate(records[pos], float(cos), fused[pos], dense_rank.get(pos), lexical_rank.get(pos))
            for pos, cos in zip(best, cosines)
            if pos in records
        ]


