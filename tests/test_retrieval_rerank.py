"""The second-stage score of hybrid retrieval (service.rerank)."""

import numpy as np

from corpus.aliases import load_aliases
from corpus.model import Record
from service.interpret import interpret
from service.rerank import Unit, centroid, coverage, first_stage, query_units, word_feedback, words_of


def test_a_name_and_its_code_names_are_one_unit_of_the_question():
    reading = interpret("What did Filippov tell Mao about the volunteers?", load_aliases(None))
    units = [u.words for u in query_units(reading)]
    stalin = next(u for u in units if "stalin" in u)
    assert "filippov" in stalin  # the code name and the name count once, not twice
    assert any(u == {"volunteers"} for u in units)


def test_coverage_weighs_rare_words_and_reads_title_summary_and_notes():
    units = [Unit({"kurchatov"}), Unit({"soviet"})]
    weights = np.array([5.0, 1.0])
    rare = Record(id="a", title="Letter", summary="From Kurchatov to Beria.")
    common = Record(id="b", title="Soviet letter", summary="Soviet plans.")
    both = Record(id="c", title="Soviet note", summary="", notes=["Signed by Kurchatov."])
    assert np.allclose(coverage([words_of(r) for r in (rare, common, both)], units, weights), [5 / 6, 1 / 6, 1.0])


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
    head = frozenset({"kaeso", "armis", "talks"})
    pool = [head, frozenset({"kaeso", "armis", "other"}), frozenset({"talks", "other"}), frozenset({"talks"}), frozenset()]
    shared = word_feedback(head, pool)
    assert shared[0] == 1.0 and shared[4] == 0.0
    # Two words only a few records share outweigh one that most of the pool has.
    assert shared[1] > shared[2] == shared[3] > 0
    assert not word_feedback(frozenset(), pool).any()
