"""Index type by scale (exact flat when small, IVF when large, HNSW on request)
and the integrity checks that stay cheap on large index files."""

import numpy as np
import pytest

from corpus.errors import ConfigError, IndexCorruptError
from corpus.loaders import load_files
from corpus.model import Record
from embeddings import indexes, integrity
from embeddings.collection import INDEX, Collection, current_generation
from embeddings.encoder import HashingEncoder
from embeddings.ingest import ingest, remove
from tests.conftest import TINY


def records():
    return load_files([TINY]).records


def exact_top(collection, query, k):
    scores = np.asarray(collection.vectors()[np.arange(collection.rows)]) @ query
    scores[collection.dead] = -np.inf
    return [int(i) for i in np.argsort(-scores)[:k]]


def test_auto_chooses_flat_up_to_the_threshold_then_ivf():
    assert indexes.choose("auto", 20_000) == "flat"
    assert indexes.choose("auto", 20_001) == "ivf"
    assert indexes.choose("auto", 10, flat_max_records=5) == "ivf"
    assert indexes.choose("flat", 5_000_000) == "flat" and indexes.choose("hnsw", 3) == "hnsw"


def test_an_approximate_index_is_kept_until_the_collection_shrinks_well_below_the_threshold():
    assert indexes.choose("auto", 19_000, current="ivf") == "ivf"
    assert indexes.choose("auto", 15_000, current="ivf") == "flat"


def test_ivf_cells_grow_with_the_square_root_of_the_collection():
    assert indexes.ivf_lists(1_000_000) == 4000 and indexes.ivf_lists(100_000) == 1264
    assert indexes.ivf_lists(20_001) == 500, "each cell trained on at least 40 vectors"
    assert indexes.ivf_lists(8) == 1


def test_unknown_index_type_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="index_type must be one of auto, flat, ivf, hnsw"):
        ingest(tmp_path, records(), HashingEncoder(), index_type="annoy")


def test_small_collection_gets_an_exact_flat_index(tiny_index):
    collection = Collection.open(tiny_index.data_dir)
    assert collection.manifest["index_type"] == "flat" and "hnsw" not in collection.manifest
    collection.close()


@pytest.mark.parametrize("how, kind", [({"flat_max_records": 5}, "ivf"), ({"index_type": "ivf"}, "ivf"), ({"index_type": "hnsw"}, "hnsw")])
def test_above_the_threshold_or_when_asked_the_index_is_approximate(tmp_path, how, kind):
    ingest(tmp_path, records(), HashingEncoder(), **how)
    collection = Collection.open(tmp_path, model="hashing")
    assert collection.manifest["index_type"] == kind and kind in collection.manifest
    query = HashingEncoder().encode(["Stalin letter to Pishevari about Soviet troops in Iran"])[0]
    assert [h.pos for h in collection.search(query, 8)] == exact_top(collection, query, 8)
    collection.close()


def test_forced_flat_stays_flat_above_the_threshold(tmp_path):
    ingest(tmp_path, records(), HashingEncoder(), index_type="flat", flat_max_records=2)
    assert Collection.open(tmp_path).manifest["index_type"] == "flat"


def test_crossing_the_threshold_rebuilds_the_index_without_re_embedding(tmp_path):
    ingest(tmp_path, records()[:4], HashingEncoder(), flat_max_records=5)
    report = ingest(tmp_path, records(), HashingEncoder(), flat_max_records=5)
    assert (report.embedded, report.index_type, report.mode) == (4, "ivf", "incremental")


@pytest.mark.parametrize("kind", ["ivf", "hnsw"])
def test_rows_added_after_an_approximate_index_are_searched_exactly(tmp_path, kind):
    ingest(tmp_path, records(), HashingEncoder(), index_type=kind)
    extra = Record(id="extra", title="Gomułka talks with Khrushchev in Warsaw", summary="A heated night of talks in October.")
    ingest(tmp_path, [extra], HashingEncoder(), index_type=kind)
    collection = Collection.open(tmp_path)
    assert collection.manifest["index_rows"] == 8 and collection.rows == 9, "the index is shared, the new row is not in it"
    query = HashingEncoder().encode([extra.embedding_text()])[0]
    assert collection.search(query, 1)[0].pos == 8
    assert [h.pos for h in collection.search(query, 9)] == exact_top(collection, query, 9)
    collection.close()


@pytest.mark.parametrize("kind", ["ivf", "hnsw"])
def test_removed_records_never_come_back_from_approximate_search(tmp_path, kind):
    ingest(tmp_path, records(), HashingEncoder(), index_type=kind)
    gone = records()[0]
    remove(tmp_path, [gone.id], index_type=kind)
    collection = Collection.open(tmp_path)
    query = HashingEncoder().encode([gone.embedding_text()])[0]
    found = collection.search(query, 10)
    assert len(found) == 7 and 0 not in {h.pos for h in found}
    collection.close()


def test_index_type_setting_reaches_the_cli_ingest(tmp_path, monkeypatch):
    from service.cli import main

    monkeypatch.setenv("DOCENT_INDEX_TYPE", "hnsw")
    assert main(["ingest", str(TINY), "--data-dir", str(tmp_path), "--model", "hashing", "--quiet"]) == 0
    assert Collection.open(tmp_path).manifest["index_type"] == "hnsw"


def test_large_files_are_checked_by_sampled_blocks_at_start_up(tmp_path, monkeypatch):
    """Past FULL_VERIFY_BYTES a file is checked by size and sampled blocks:
    damage at the head or tail is caught at start-up, damage between sampled
    blocks only by a full verification (docent info --verify)."""
    monkeypatch.setattr(integrity, "FULL_VERIFY_BYTES", 0)
    monkeypatch.setattr(integrity, "SAMPLE_BLOCK", 64)
    monkeypatch.setattr(integrity, "SAMPLE_BLOCKS", 4)
    ingest(tmp_path, records(), HashingEncoder())
    target = current_generation(tmp_path) / INDEX
    original = target.read_bytes()
    assert len(original) > 64 * 8, "the index must span unsampled blocks for this test"

    def damage(offset):
        data = bytearray(original)
        data[offset] ^= 0xFF
        target.write_bytes(bytes(data))

    damage(len(original) - 1)
    with pytest.raises(IndexCorruptError, match=str(target)):
        Collection.open(tmp_path, model="hashing")
    damage(len(original) // 3 + 100)  # between the sampled blocks at 0, 1/3, 2/3 and the end
    Collection.open(tmp_path, model="hashing").close()
    with pytest.raises(IndexCorruptError, match=str(target)):
        Collection.open(tmp_path, model="hashing", full_verify=True)


def test_info_verify_hashes_every_byte(tiny_index, capsys):
    from service.cli import main

    assert main(["info", "--data-dir", str(tiny_index.data_dir), "--verify"]) == 0
    assert "every byte" in capsys.readouterr().out


def many(n, start=0):
    def one(i):
        year = 1950 + i % 20
        return Record(id=f"m{i}", title=f"Report {i} on the Berlin question", date=str(year), earliest=f"{year}-01-01",
                      latest=f"{year}-12-31", precision="year", summary=f"Item {i}: talks in year {year}.")
    return [one(i) for i in range(start, start + n)]


def test_an_ivf_index_is_extended_past_the_delta_and_retrained_only_after_growing(tmp_path, monkeypatch):
    monkeypatch.setattr(indexes, "DELTA_MAX_ROWS", 2)
    ingest(tmp_path, many(100), HashingEncoder(), index_type="ivf")
    ingest(tmp_path, many(50, start=100), HashingEncoder(), index_type="ivf")
    c = Collection.open(tmp_path)
    assert (c.manifest["index_rows"], c.manifest["ivf"]["trained_rows"]) == (150, 100), "extended, not retrained"
    c.close()
    ingest(tmp_path, many(300, start=150), HashingEncoder(), index_type="ivf")
    c = Collection.open(tmp_path)
    assert (c.manifest["index_rows"], c.manifest["ivf"]["trained_rows"]) == (450, 450), "grown past 4×: retrained"
    c.close()


@pytest.mark.parametrize("kind", ["flat", "ivf", "hnsw"])
def test_date_filtered_dense_search_returns_only_records_in_range(tmp_path, monkeypatch, kind):
    from embeddings import ranges

    monkeypatch.setattr(ranges, "EXACT_IN_RANGE", 0)  # force the filtered index search
    ingest(tmp_path, many(60), HashingEncoder(), index_type=kind)
    remove(tmp_path, ["m5"], index_type=kind)
    c = Collection.open(tmp_path)
    query = HashingEncoder().encode(["Report on the Berlin question talks"])[0]
    hits = ranges.dense_in_range(c, query, 10, "1955-01-01", "1955-12-31")
    found = c.store.by_positions([h.pos for h in hits])
    assert {found[h.pos].date for h in hits} == {"1955"} and "m5" not in {r.id for r in found.values()}
    assert len(hits) == 2, "m25 and m45 (m5 was removed)"
    c.close()


def test_a_periods_search_is_prepared_once_and_reaches_rows_past_the_index(tmp_path, monkeypatch):
    from embeddings import ranges

    ingest(tmp_path, many(60), HashingEncoder(), index_type="ivf")
    ingest(tmp_path, many(60) + many(3, start=60), HashingEncoder(), index_type="ivf")  # m60..m62: after the index
    c = Collection.open(tmp_path)
    assert c.manifest["index_rows"] == 60 and c.rows == 63
    listed = ranges.period(c, "1950-01-01", "1950-12-31")
    assert listed.positions is not None and listed.restriction is None and len(listed.positions) == 4
    monkeypatch.setattr(ranges, "EXACT_IN_RANGE", 0)
    assert ranges.period(c, "1950-01-01", "1950-12-31") is listed, "kept for the generation"
    wide = ranges.period(c, "1950-01-01", "1951-12-31")
    assert wide.positions is None and int(wide.restriction.mask.sum()) == 8
    assert ranges.period(c, "1950-01-01", "1951-12-31") is wide
    query = HashingEncoder().encode(["Report 61 on the Berlin question"])[0]
    hits = ranges.dense_in_range(c, query, 10, "1950-01-01", "1951-12-31")
    found = c.store.by_positions([h.pos for h in hits])
    assert sorted(found[h.pos].id for h in hits) == sorted(f"m{i}" for i in (0, 1, 20, 21, 40, 41, 60, 61))
    c.close()


def test_one_lexical_query_gives_the_overall_and_the_in_range_lists(tmp_path):
    from embeddings import ranges

    ingest(tmp_path, many(60), HashingEncoder())
    c = Collection.open(tmp_path)
    terms = ["Berlin", "talks"]
    overall, within = ranges.lexical_with_range(c.store, terms, 10, "1955-01-01", "1955-12-31")
    assert overall == c.store.lexical(terms, 10)
    dated = c.store.by_positions([pos for pos, _ in within])
    assert within and {r.date for r in dated.values()} <= {"1955", ""}
    assert [s for _, s in within] == sorted((s for _, s in within), reverse=True)
    c.close()


def test_date_masks_keep_undated_records_and_compare_whole_days(tmp_path):
    rows = [Record(id="a", title="A", date="1950-05-14", earliest="1950-05-14", latest="1950-05-14", precision="day"),
            Record(id="b", title="B", date="1950", earliest="1950-01-01", latest="1950-12-31", precision="year"),
            Record(id="c", title="C"),
            Record(id="d", title="D", date="1951-01-02", earliest="1951-01-02", latest="1951-01-02", precision="day")]
    ingest(tmp_path, rows, HashingEncoder())
    c = Collection.open(tmp_path)
    ids = {pos: r.id for pos, r in c.store.by_positions(list(range(4))).items()}
    mask = c.store.date_mask("1950-05-15", "1950-12-31")
    assert {ids[p] for p in np.flatnonzero(mask)} == {"b", "c"}
    assert {ids[p] for p in np.flatnonzero(c.store.date_mask(None, "1950-05-14"))} == {"a", "b", "c"}
    assert c.store.date_mask("1950-05-15", "1950-12-31") is mask and not mask.flags.writeable
    assert {ids[p] for p in np.flatnonzero(c.store.date_mask("1950-06-01", None))} == {"b", "c", "d"}
    c.close()


def test_word_counts_settled_from_term_df_equal_the_capped_count(tmp_path):
    ingest(tmp_path, many(60), HashingEncoder())
    c = Collection.open(tmp_path)
    exact = lambda words, cap: c.store._db.execute(
        "SELECT count(*) FROM (SELECT 1 FROM records_fts WHERE records_fts MATCH ? LIMIT ?)", (" OR ".join(f'"{w}"' for w in words), cap)).fetchone()[0]
    for words, cap in ((["Berlin"], 40), (["Berlin"], 100), (["Item", "nowhere"], 45), (["Berlin question"], 40), (["nowhere"], 40)):
        assert c.store.matching_count(words, cap) == exact(words, cap), (words, cap)
    assert c.store.matching_count(["Berlin"], 40) == 40 and c.store.matching_count(["Berlin"], 100) == 60
    c.close()


def test_each_thread_reads_through_its_own_connection_and_close_closes_them_all(tmp_path):
    import sqlite3
    import threading

    ingest(tmp_path, many(10), HashingEncoder())
    c = Collection.open(tmp_path)
    seen = []
    worker = threading.Thread(target=lambda: seen.append((c.store._db, c.store.count())))
    worker.start()
    worker.join()
    assert seen[0][1] == 10 and seen[0][0] is not c.store._db
    c.close()
    with pytest.raises(sqlite3.ProgrammingError):
        seen[0][0].execute("SELECT 1")
    with pytest.raises(sqlite3.ProgrammingError):
        c.store.count()


@pytest.mark.parametrize("corpus, codes", [("tiny", "SQfp16"), ("many", "PQ192x4fs")])
def test_an_ivf_index_codes_its_cells_but_returns_exact_scores(tmp_path, corpus, codes):
    """Half-precision cells when trained on a few rows, 4-bit product codes
    above; either way the hits are the exact top k with exact scores."""
    ingest(tmp_path, records() if corpus == "tiny" else many(1_200), HashingEncoder(dimension=384), index_type="ivf")
    collection = Collection.open(tmp_path)
    try:
        assert indexes.lossy(collection.index) and collection.manifest["ivf"]["codes"] == codes
        for question in ("Soviet talks on Berlin", "Report 17 on the Berlin question"):
            query = HashingEncoder(dimension=384).encode([question])[0]
            hits = collection.search(query, 5)
            exact = collection.vectors()[[h.pos for h in hits]] @ query
            assert np.allclose([h.score for h in hits], exact, rtol=0, atol=1e-6)
            # Many of these records tie, so the exact top 5 is compared by score.
            best = np.asarray(collection.vectors()[exact_top(collection, query, 5)]) @ query
            assert np.allclose([h.score for h in hits], best, rtol=0, atol=1e-6)
    finally:
        collection.close()


def test_searches_run_faiss_on_one_thread_in_any_thread_and_restore_its_setting(tmp_path, monkeypatch):
    import threading

    import faiss

    import embeddings.collection as collection_module

    ingest(tmp_path, records(), HashingEncoder(), index_type="ivf")
    collection = Collection.open(tmp_path)
    seen = {"search": [], "cosines": [], "after": []}

    class Spy:
        def __init__(self, inner):
            self.inner = inner

        def __getattr__(self, name):
            return getattr(self.inner, name)

        def search(self, *args, **kwargs):
            seen["search"].append(faiss.omp_get_max_threads())
            return self.inner.search(*args, **kwargs)

    real_products = collection_module.inner_products

    def products(*args):
        seen["cosines"].append(faiss.omp_get_max_threads())
        return real_products(*args)

    def request() -> None:
        # OpenMP's thread count belongs to the calling thread: a request
        # thread starts from its own default, here three.
        faiss.omp_set_num_threads(3)
        query = HashingEncoder().encode(["Soviet talks on Berlin"])[0]
        collection.search(query, 5)
        collection.cosines(query, [0, 1, 2])
        seen["after"].append(faiss.omp_get_max_threads())

    monkeypatch.setattr(collection, "index", Spy(collection.index))
    monkeypatch.setattr(collection_module, "inner_products", products)
    try:
        worker = threading.Thread(target=request)
        worker.start()
        worker.join()
    finally:
        collection.close()
    assert seen == {"search": [1], "cosines": [1], "after": [3]}
