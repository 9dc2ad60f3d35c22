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
from collections import Counter
from functools import lru_cache

import numpy as np

from corpus.model import Record
from corpus.text import fold, terms
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
# A five-letter prefix is the crude stem the answer composer also uses
# (corpus.text.stems): "negotiations" ~ "negotiate", "Korean" ~ "Korea".
STEM = 5
_WORD = re.compile(r"[^\W_]+", re.UNICODE)


@lru_cache(maxsize=20_000)
def _stems(text: str) -> frozenset[str]:
    # Most catalogue text is ASCII, and folding it character by character
    # would cost more than the rest of retrieval; the cache keeps the stems
    # of the records that keep coming back for related questions.
    return frozenset(w[:STEM] for w in _WORD.findall(text.lower() if text.isascii() else fold(text)))


class Unit:
    """One word of the question, or one person or place under all their names:
    ``words`` as searched (for counting the records that contain it),
    ``stems`` as matched against a record's text."""

    __slots__ = ("words", "stems")

    def __init__(self, words: set[str]) -> None:
        self.words = words
        self.stems = {w[:STEM] for w in words}


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


def words_of(record: Record) -> frozenset[str]:
    """The stems of a record's title, summary and notes (cached)."""
    return _stems(f"{record.title} {record.summary} {' '.join(record.notes)}")


def coverage(records: list[frozenset[str]], units: list[Unit], weights: np.ndarray) -> np.ndarray:
    """Per record (its stems, ``words_of``), the IDF-weighted share of the
    question's units found in its title, summary or notes (0 to 1)."""
    total = float(weights.sum())
    if not units or total <= 0:
        return np.zeros(len(records))
    pairs = list(zip([u.stems for u in units], weights.tolist()))
    return np.array([sum(w for stems, w in pairs if not stems.isdisjoint(found)) for found in records]) / total


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


def word_feedback(head: frozenset[str], pool: list[frozenset[str]]) -> np.ndarray:
    """Per pooled record (its stems), the share of the best record's stems
    ``head`` it contains, a stem weighted log((n + 1) / df) by the number of
    the n pooled records that have it (0 to 1). Only stems of the head are
    counted, so the cost is a set intersection per candidate."""
    shared = [words & head for words in pool]
    df = Counter()
    for found in shared:
        df.update(found)
    weight = {w: math.log((len(pool) + 1) / df.get(w, 1)) for w in head}
    total = sum(weight.values())
    if total <= 0:
        return np.zeros(len(pool))
    return np.array([sum(weight[w] for w in found) for found in shared]) / total
