"""The second-stage score of hybrid retrieval (service.rerank)."""

import numpy as np

from corpus.aliases import load_aliases
from corpus.model import Record
from service.interpret import interpret
from corpus.text import record_words
from embeddings.store import Vocabulary
from service.rerank import PoolWords, Unit, centroid, coverage, first_stage, query_units, word_feedback


def pooled(vocabulary, *stem_sets):
    return PoolWords([vocabulary.encode(stems).tobytes() for stems in stem_sets])


def test_a_name_and_its_code_names_are_one_unit_of_the_question():
    reading = interpret("What did Filippov tell Mao about the volunteers?", load_aliases(None))
    units = [u.words for u in query_units(reading)]
    stalin = next(u for u in units if "stalin" in u)
    assert "filippov" in stalin  # the code name and the name count once, not twice
    assert any(u == {"volunteers"} for u in units)


def test_coverage_weighs_rare_words_and_reads_title_summary_and_notes():
    vocabulary = Vocabulary({})
    units = [Unit({"kurchatov"}), Unit({"soviet"}), Unit({"absent"})]
    weights = np.array([5.0, 1.0, 0.0])
    rare = Record(id="a", title="Letter", summary="From Kurchatov to Beria.")
    common = Record(id="b", title="Soviet letter", summary="Soviet plans.")
    both = Record(id="c", title="Soviet note", summary="", notes=["Signed by Kurchatov."])
    pool = pooled(vocabulary, *(record_words(r.title, r.summary, r.notes) for r in (rare, common, both)), set())
    for unit in units:
        unit.ids = vocabulary.encode(unit.stems)
    assert np.allclose(coverage(pool, units, weights), [5 / 6, 1 / 6, 1.0, 0.0])


def test_coverage_credits_every_unit_that_shares_a_stem():
    vocabulary = Vocabulary({})
    units = [Unit({"negotiations"}), Unit({"negotiate"}), Unit({"armistice"})]
    for unit in units:
        unit.ids = vocabulary.encode(unit.stems)
    pool = pooled(vocabulary, {"negot"}, {"armis", "other"}, set())
    assert np.allclose(coverage(pool, units, np.array([1.0, 1.0, 2.0])), [0.5, 0.5, 0.0])
    assert not coverage(pool, [], np.zeros(0)).any()


def test_first_stage_adds_relative_bm25_and_coverage_to_the_cosine():
    cosine = np.array([0.5, 0.5, 0.5])
    bm25 = np.array([10.0, 5.0, 0.0])
    cover = np.array([0.0, 1.0, 0.0])
    scores = first_stage(cosine, bm25, cover)
    assert scores[1] > scores[0] > scores[2]
    assert np.allclose(first_stage(cosine, np.zeros(3), np.zeros(3)), cosine)


def test_centroid_is_normalised_and_leans_to_the_best_record():
    mean = centroid(np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32))
    assert np.isclose(np.linalg.norm(mean), 1.0)
    # The first (best-ranked) record weighs more than the second.
    assert mean[0] > mean[1] > 0
    assert centroid(np.zeros((0, 2), dtype=np.float32)) is None


def test_word_feedback_rewards_sharing_the_best_records_rarer_words():
    vocabulary = Vocabulary({})
    head = {"kaeso", "armis", "talks"}
    pool = pooled(vocabulary, head, {"kaeso", "armis", "other"}, {"talks", "other"}, {"talks"}, set())
    shared = word_feedback(vocabulary.encode(head), pool)
    assert np.isclose(shared[0], 1.0) and shared[4] == 0.0
    # Two words only a few records share outweigh one that most of the pool has.
    assert shared[1] > shared[2] == shared[3] > 0
    # idf: kaeso and armis are in 2 of 5 records, talks in 3: ln(6/2) each, ln(6/3).
    assert np.isclose(shared[1], 2 * np.log(3) / (2 * np.log(3) + np.log(2)))
    assert not word_feedback(vocabulary.encode(set()), pool).any()


def test_word_feedback_counts_a_head_stem_no_pooled_record_has_once():
    vocabulary = Vocabulary({})
    head = vocabulary.encode({"kaeso", "armis"})
    shared = word_feedback(head, pooled(vocabulary, {"kaeso"}, {"other"}))
    assert np.isclose(shared[0], 1 / 2) and shared[1] == 0.0
