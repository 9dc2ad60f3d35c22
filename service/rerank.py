"""The second stage of hybrid retrieval: one score per candidate from a few
signals, added with fixed weights.

Reciprocal rank fusion throws the scores away: a record that BM25 ranks 3rd
by a hair and one it ranks 3rd by a mile count the same, and a record that
mentions every name in the question ranks no higher than one that repeats a
single common word. The fused score here keeps what the two lists measured:

- ``cosine``: the sentence encoder's similarity of question and record;
- ``bm25``: the record's BM25 score divided by the best BM25 score of the
  question, so it is in [0, 1] whatever the question's length;
- ``coverage``: the share of the question's words the record contains,
  each word weighted by its rarity in the collection (IDF), a name and its
  variants and code names counting as one word ("Filippov" covers "Stalin").
  BM25 rewards repeating one rare word; coverage rewards answering all of
  the question, which is what separates the record about *this* meeting
  from the ten about the same people;
- ``centroid``: the cosine similarity to the mean vector of the best records
  after the first three signals, the best weighted most (pseudo-relevance
  feedback). Records
  relevant to a topical question resemble each other more than they resemble
  the question, so this lifts the rest of a topic once its head is found;
- ``words``: the same feedback in words (RM3-like, but inside the pool): the
  share of the best record's words a record contains, each word weighted by
  its rarity among the pooled candidates. The sentence vector blurs names and
  terms of art; sharing "Kaesong", "armistice" and "Ridgway" with the best
  record is a sharper sign of the same subject, and words that every pooled
  record has (the question's own) weigh almost nothing.

The weights were chosen on one half of the dev suite (queries split by a
hash of their id) and confirmed on the other half (docs/retrieval.md).
"""

from __future__ import annotations

import math
import re
import numpy as np

from corpus.text import STEM, fold, terms
from embeddings.store import RecordStore
from service.interpret import Interpretation

WEIGHT_BM25 = 0.15
WEIGHT_COVERAGE = 0.5
WEIGHT_CENTROID = 0.6
# Pseudo-relevance feedback from the best few records, the n-th of them
# weighted FEEDBACK_DECAY ** n: the first record is the one most often
# relevant, and a plain mean of three let a stray second or third record pull
# the centroid off the topic (+2.8 nDCG@10 on the fold the decay was chosen
# on, +1.3 on the other). Past five records the weights are negligible.
FEEDBACK_DEPTH = 6
FEEDBACK_DECAY = 0.4
# Word feedback from the best record alone: from two or three it lost on the
# fold it was chosen on (weights 0.6 to 1.3 there all scored within 0.005).
WEIGHT_WORDS = 0.7
# Counting a word's documents stops here: a word this common weighs little
# anyway, and the count must not cost a scan of a huge collection.
DF_CAP = 2000
_WORD = re.compile(r"[^\W_]+", re.UNICODE)


class Unit:
    """One word of the question, or one person or place under all their names:
    ``words`` as searched (for counting the records that contain it),
    ``stems`` as matched against a record's text, ``ids`` those stems'
    numbers in a record store (RecordStore.stem_ids), set by the retriever."""

    __slots__ = ("words", "stems", "ids")

    def __init__(self, words: set[str]) -> None:
        self.words = words
        self.stems = {w[:STEM] for w in words}
        self.ids = np.zeros(0, dtype=np.int32)


def query_units(interpretation: Interpretation) -> list[Unit]:
    """The question's content words; the names of a person or place it
    mentions ("Filippov", "Stalin", "Feng Xi") merged into one unit."""
    units = [{w} for w in terms(interpretation.query)]
    for use in interpretation.aliases:
        group = set().union(*(set(_WORD.findall(fold(name))) for name in (use.found, use.name, *use.added)))
        stems = {w[:STEM] for w in group}
        merged, kept = set(group), []
        for unit in units:
            (merged.update(unit) if {w[:STEM] for w in unit} & stems else kept.append(unit))
        units = kept + [merged]
    return [Unit(u) for u in units if u]


def unit_weights(store: RecordStore, units: list[Unit], total: int) -> np.ndarray:
    """IDF of each unit, from the number of records the lexical index matches
    for any of its words (BM25's own document frequency)."""
    weights = np.zeros(len(units))
    for i, unit in enumerate(units):
        df = store.matching_count(sorted(unit.words), DF_CAP)
        weights[i] = math.log((total - df + 0.5) / (df + 0.5) + 1.0)
    return weights


class PoolWords:
    """The stem ids of a pool of records, flattened: which records hold which
    stems is then a few numpy passes, not a set operation per record and
    stem. Built from the ids as stored (RecordStore.pooled_rows), joined
    before they become arrays."""

    def __init__(self, blobs: list[bytes]) -> None:
        self.size = len(blobs)
        lengths = np.fromiter(map(len, blobs), dtype=np.int64, count=len(blobs)) // 4
        self.flat = np.frombuffer(b"".join(blobs), dtype=np.int32)
        self.owner = np.repeat(np.arange(len(blobs)), lengths)


def _positions_in(ids: np.ndarray, size: int) -> np.ndarray:
    """A table over stem ids up to ``size``: the index of each of ``ids``
    (sorted, unique) in it, -1 elsewhere. Looking a pool's stems up in it is
    one gather, where a sorted search or ``isin`` over the same stems took
    several times as long."""
    table = np.full(size, -1, dtype=np.int32)
    table[ids] = np.arange(len(ids), dtype=np.int32)
    return table


def coverage(pool: PoolWords, units: list[Unit], weights: np.ndarray) -> np.ndarray:
    """Per pooled record, the IDF-weighted share of the question's units
    found in its title, summary or notes (0 to 1)."""
    total = float(weights.sum())
    wanted = np.unique(np.concatenate([unit.ids for unit in units])) if units else np.zeros(0, dtype=np.int32)
    if total <= 0 or not len(wanted):
        return np.zeros(pool.size)
    index = _positions_in(wanted, max(int(wanted[-1]), int(pool.flat.max(initial=0))) + 1)
    # member[i, u]: the question's i-th stem belongs to unit u (two words of
    # the question may share a stem, so a stem may belong to several units).
    member = np.zeros((len(wanted), len(units)), dtype=np.int64)
    for u, unit in enumerate(units):
        member[index[unit.ids], u] = 1
    at = index[pool.flat]
    hit = at >= 0
    # present[r, i]: pooled record r has the question's i-th stem.
    present = np.zeros(pool.size * len(wanted), dtype=np.int64)
    present[pool.owner[hit] * len(wanted) + at[hit]] = 1
    found = present.reshape(pool.size, len(wanted)) @ member
    return (found > 0) @ weights / total


def first_stage(cosine: np.ndarray, bm25: np.ndarray, cover: np.ndarray) -> np.ndarray:
    best = float(bm25.max()) if len(bm25) else 0.0
    relative = bm25 / best if best > 0 else np.zeros_like(bm25)
    return cosine + WEIGHT_BM25 * relative + WEIGHT_COVERAGE * cover


def centroid(head: np.ndarray) -> np.ndarray | None:
    """The normalised, rank-weighted mean of the vectors of the best few
    records (best first)."""
    if not len(head):
        return None
    mean = (head * (FEEDBACK_DECAY ** np.arange(len(head)))[:, None]).sum(axis=0)
    norm = float(np.linalg.norm(mean))
    return mean / norm if norm > 0 else None


def word_feedback(head: np.ndarray, pool: PoolWords) -> np.ndarray:
    """Per pooled record, the share of the best record's stems ``head`` (ids)
    it contains, a stem weighted log((n + 1) / df) by the number of the n
    pooled records that have it (0 to 1)."""
    if not len(head):
        return np.zeros(pool.size)
    stems = np.unique(head)
    which = _positions_in(stems, max(int(stems[-1]), int(pool.flat.max(initial=0))) + 1)[pool.flat]
    shared = which >= 0
    which, owners = which[shared], pool.owner[shared]
    df = np.bincount(which, minlength=len(stems))
    found = df > 0
    weight = np.zeros(len(stems))
    weight[found] = np.log((pool.size + 1) / df[found])
    # A stem of the head that no pooled record has counts as if one had it.
    total = float(weight[found].sum()) + (len(head) - int(found.sum())) * math.log(pool.size + 1)
    if total <= 0:
        return np.zeros(pool.size)
    return np.bincount(owners, weights=weight[which], minlength=pool.size) / total
