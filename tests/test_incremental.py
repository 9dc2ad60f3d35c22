"""Incremental ingest: additions append, updates and removals by id keep the
records, vectors, FAISS index and FTS5 lexical index consistent, unchanged
files are shared with the previous generation, and an interrupted step
leaves the previous generation in use."""

import json
import os
import sqlite3

import msgspec
import numpy as np
import pytest

from corpus.errors import DocentError
from corpus.loaders import load_files
from corpus.model import Record
from corpus.text import record_words
from embeddings import lexical
from embeddings.collection import DELETED, FORMAT_VERSION, MANIFEST, STORE, Collection, current_generation
from embeddings.encoder import HashingEncoder
from embeddings.ingest import ingest, remove
from embeddings.integrity import file_digest
from embeddings.vectors import MAX_CHUNKS, Rows, gather
from tests.conftest import TINY


class CountingEncoder(HashingEncoder):
    def __init__(self):
        super().__init__()
        self.texts = []

    def encode(self, texts, **kwargs):
        self.texts.extend(texts)
        return super().encode(texts, **kwargs)


def records():
    return load_files([TINY]).records


def changed(record, **fields):
    return Record(**{**msgspec.structs.asdict(record), **fields})


def new_record(i, summary="Talks on the future of Germany."):
    return Record(id=f"new-{i}", title=f"Memorandum number {i} on Berlin", date="1959", summary=summary)


def opened(data_dir):
    return Collection.open(data_dir, model="hashing")


def assert_consistent(data_dir):
    """Every live record is found by its own vector and text; dead rows never are."""
    c = opened(data_dir)
    try:
        live = {row.pos: row.id for row in c.store.rows()}
        assert len(live) == c.count == c.rows - len(c.dead)
        assert not set(live) & set(c.dead.tolist())
        for pos, rid in live.items():
            record = c.store.by_id(rid)
            assert np.allclose(c.vectors()[pos], HashingEncoder().encode([record.embedding_text()])[0])
            hits = c.search(c.vectors()[pos], c.count)
            assert len(hits) == c.count and {h.pos for h in hits} == set(live)
        assert_words(c)
    finally:
        c.close()


def assert_words(c):
    """Each record's stored stem ids are those of its own text."""
    for pos, _, record in c.store.items():
        ids = c.store.word_ids([pos])[pos]
        assert np.array_equal(ids, c.store.stem_ids(record_words(record.title, record.summary, record.notes)))
        assert len(ids) == len(record_words(record.title, record.summary, record.notes))


def test_adding_records_embeds_only_them_and_shares_unchanged_files(tmp_path):
    encoder = CountingEncoder()
    ingest(tmp_path, records(), encoder)
    before = current_generation(tmp_path)
    report = ingest(tmp_path, [new_record(1), new_record(2)], encoder)
    after = current_generation(tmp_path)
    assert (report.added, report.embedded, report.total, report.mode) == (2, 2, 10, "incremental")
    assert len(encoder.texts) == 10
    old_chunks = json.loads((after / MANIFEST).read_text())["vector_chunks"]
    assert [c["rows"] for c in old_chunks] == [8, 2], "the new rows are a new chunk"
    assert not before.exists(), "the previous generation is removed once the new one is current"
    assert os.stat(after / old_chunks[0]["file"]).st_nlink == 1
    assert_consistent(tmp_path)


def test_unchanged_files_are_hard_links_while_both_generations_exist(tmp_path, monkeypatch):
    ingest(tmp_path, records(), HashingEncoder())
    before = current_generation(tmp_path)
    monkeypatch.setattr("embeddings.ingest.remove_old_generations", lambda data_dir, keep: None)
    ingest(tmp_path, [new_record(1)], HashingEncoder())
    after = current_generation(tmp_path)
    chunk = json.loads((before / MANIFEST).read_text())["vector_chunks"][0]["file"]
    assert os.stat(before / chunk).st_ino == os.stat(after / chunk).st_ino
    assert os.stat(before / STORE).st_ino != os.stat(after / STORE).st_ino, "the store is copied, never changed in place"


def test_metadata_update_keeps_the_row_and_vector_and_updates_the_lexical_index(tmp_path):
    encoder = CountingEncoder()
    ingest(tmp_path, records(), encoder)
    target = records()[1]
    report = ingest(tmp_path, [changed(target, notes=["Annotated by the zebrafinch working group."])], encoder)
    assert (report.updated, report.embedded, report.mode) == (1, 0, "incremental")
    c = opened(tmp_path)
    assert c.rows == 8 and len(c.dead) == 0, "same text: rewritten in place"
    assert [pos for pos, _ in c.store.lexical(["zebrafinch"], 5)] == [1]
    c.close()


def test_text_update_replaces_the_vector_and_the_lexical_entry(tmp_path):
    encoder = CountingEncoder()
    ingest(tmp_path, records(), encoder)
    target = records()[0]
    old_word = next(w for w in target.summary.split() if len(w) > 6).strip(".,")
    report = ingest(tmp_path, [changed(target, summary="Replaced by a note about quokkas.")], encoder)
    assert (report.updated, report.embedded) == (1, 1)
    c = opened(tmp_path)
    assert c.store.by_id(target.id).summary == "Replaced by a note about quokkas."
    assert c.dead.tolist() == [0] and c.rows == 9
    assert [pos for pos, _ in c.store.lexical(["quokkas"], 5)] == [8]
    assert 0 not in [pos for pos, _ in c.store.lexical([old_word], 5)]
    c.close()
    assert_consistent(tmp_path)


def test_remove_by_id(tmp_path):
    ingest(tmp_path, records() + [new_record(i) for i in range(30)], HashingEncoder())
    gone = records()[2]
    report = remove(tmp_path, [gone.id, "no-such-id"])
    assert (report.removed, report.total, report.notes, report.mode) == (1, 37, ["no-such-id"], "incremental")
    c = opened(tmp_path)
    assert c.store.by_id(gone.id) is None
    assert (current_generation(tmp_path) / DELETED).is_file()
    assert 2 not in [pos for pos, _ in c.store.lexical(gone.title.split(), 50)]
    c.close()
    assert_consistent(tmp_path)


def test_replace_removes_what_is_not_in_the_input(tmp_path):
    ingest(tmp_path, records() + [new_record(i) for i in range(30)], HashingEncoder())
    report = ingest(tmp_path, records()[1:] + [new_record(i) for i in range(30)], HashingEncoder(), replace=True)
    assert (report.removed, report.unchanged, report.total, report.mode) == (1, 37, 37, "incremental")
    assert_consistent(tmp_path)


def test_many_dead_rows_compact_the_collection_reusing_vectors(tmp_path):
    encoder = CountingEncoder()
    ingest(tmp_path, records(), encoder)
    report = remove(tmp_path, [r.id for r in records()[:3]])
    assert report.mode == "rebuilt"
    c = opened(tmp_path)
    assert c.rows == c.count == 5 and len(c.dead) == 0 and not (c.path / DELETED).exists()
    c.close()
    assert len(encoder.texts) == 8, "compaction re-embeds nothing"
    assert_consistent(tmp_path)


def test_unchanged_input_keeps_the_generation(tmp_path):
    ingest(tmp_path, records(), HashingEncoder())
    before = current_generation(tmp_path)
    report = ingest(tmp_path, records(), HashingEncoder())
    assert (report.mode, report.reused, current_generation(tmp_path)) == ("unchanged", 8, before)


def test_identical_new_texts_are_embedded_once(tmp_path):
    encoder = CountingEncoder()
    ingest(tmp_path, records(), encoder)
    twins = [Record(id="twin-a", title="Same", summary="Same text."), Record(id="twin-b", title="Same", summary="Same text.")]
    assert ingest(tmp_path, twins, encoder).embedded == 1


def test_many_small_ingests_keep_the_chunk_count_bounded(tmp_path):
    ingest(tmp_path, records(), HashingEncoder())
    for i in range(MAX_CHUNKS + 2):
        ingest(tmp_path, [new_record(i)], HashingEncoder())
    c = opened(tmp_path)
    assert len(c.manifest["vector_chunks"]) <= MAX_CHUNKS and c.rows == 8 + MAX_CHUNKS + 2
    c.close()
    assert_consistent(tmp_path)


@pytest.mark.parametrize("fail_at", ["embeddings.generation.update_store", "embeddings.generation.write_chunk", "embeddings.generation._publish"])
def test_an_interrupted_incremental_step_leaves_the_previous_generation(tmp_path, monkeypatch, fail_at):
    ingest(tmp_path, records(), HashingEncoder())
    before = current_generation(tmp_path)

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(fail_at, crash)
    with pytest.raises(OSError):
        ingest(tmp_path, [new_record(1)], HashingEncoder())
    assert current_generation(tmp_path) == before
    assert [p.name for p in tmp_path.iterdir() if p.is_dir()] == [before.name]
    assert opened(tmp_path).count == 8
    assert_consistent(tmp_path)


def test_a_format_1_index_is_read_and_upgraded_by_the_next_ingest(tmp_path):
    """Indexes written before incremental ingest (one vectors.npy, no removals) still load."""
    ingest(tmp_path, records(), HashingEncoder())
    generation = current_generation(tmp_path)
    manifest = json.loads((generation / MANIFEST).read_text())
    chunk = manifest["vector_chunks"][0]["file"]
    np.save(generation / "vectors.npy", np.fromfile(generation / chunk, dtype=np.float32).reshape(8, 256))
    (generation / chunk).unlink()
    files = {k: v for k, v in manifest["files"].items() if k != chunk}
    files["vectors.npy"] = {"size": (generation / "vectors.npy").stat().st_size, "sha256": file_digest(generation / "vectors.npy")}
    legacy = {k: manifest[k] for k in ("model", "dimension", "record_count", "corpus_checksum", "date_span", "undated", "created_at")}
    (generation / MANIFEST).write_text(json.dumps({**legacy, "format_version": 1, "index_type": "flat-ip", "files": files}))
    c = opened(tmp_path)
    assert c.count == 8 and c.vectors().shape == (8, 256)
    c.close()
    report = ingest(tmp_path, [new_record(1)], HashingEncoder())
    assert (report.mode, report.embedded, report.total) == ("rebuilt", 1, 9)
    assert opened(tmp_path).manifest["format_version"] == FORMAT_VERSION
    assert_consistent(tmp_path)


def test_a_format_2_store_without_stored_words_is_read_and_given_them_by_the_next_ingest(tmp_path):
    """Stores written before the words column: the reader computes the stems
    the second stage needs, the next incremental ingest adds the column."""
    ingest(tmp_path, records(), HashingEncoder())
    generation = current_generation(tmp_path)
    connection = sqlite3.connect(generation / STORE)
    connection.execute("ALTER TABLE records DROP COLUMN words")
    connection.execute("DROP TABLE stems")
    connection.commit()
    connection.close()
    manifest = json.loads((generation / MANIFEST).read_text())
    manifest["files"][STORE] = {"size": (generation / STORE).stat().st_size, "sha256": file_digest(generation / STORE)}
    (generation / MANIFEST).write_text(json.dumps({**manifest, "format_version": 2}))
    c = opened(tmp_path)
    assert c.store._vocabulary is not None, "stems numbered in memory"
    assert_words(c)
    c.close()
    report = ingest(tmp_path, records(), HashingEncoder())
    assert (report.mode, report.embedded, report.total) == ("incremental", 0, 8), "nothing changed, but the store is upgraded"
    c = opened(tmp_path)
    assert c.store._vocabulary is None and c.manifest["format_version"] == FORMAT_VERSION
    c.close()
    assert_consistent(tmp_path)


def test_term_frequencies_follow_incremental_changes(tmp_path):
    ingest(tmp_path, records(), HashingEncoder())
    ingest(tmp_path, [new_record(i, summary="Wombat diplomacy.") for i in range(40)], HashingEncoder())
    c = opened(tmp_path)
    assert c.store._db.execute("SELECT df FROM term_df WHERE term = 'wombat'").fetchone() == (40,)
    c.close()


def test_lexical_search_leaves_out_the_most_frequent_terms_beyond_the_budget(tmp_path, monkeypatch):
    ingest(tmp_path, records() + [new_record(i) for i in range(60)], HashingEncoder())
    c = opened(tmp_path)
    try:
        terms = ["memorandum", "berlin", "pishevari"]
        assert lexical.affordable(c.store._db, terms) == terms, "within the budget nothing changes"
        assert lexical.affordable(c.store._db, terms, budget=10) == ["pishevari"], "the rarest term is kept"
        monkeypatch.setattr(lexical, "LEXICAL_BUDGET", 10)
        monkeypatch.setattr(lexical.affordable, "__defaults__", (10,))
        assert [c.store.by_positions([p])[p].id for p, _ in c.store.lexical(terms, 3)] == ["t-pishevari"]
    finally:
        c.close()


def test_cli_remove(tmp_path, capsys):
    from service.cli import main

    assert main(["ingest", str(TINY), "--data-dir", str(tmp_path), "--model", "hashing", "--quiet"]) == 0
    assert main(["remove", records()[0].id, "nope", "--data-dir", str(tmp_path), "--model", "hashing"]) == 0
    captured = capsys.readouterr()
    assert "removed from" in captured.out and "1 records; 7 records in the index" in captured.out
    assert "not in the index: nope" in captured.err


def test_remove_on_an_empty_data_dir_is_a_clear_error(tmp_path):
    with pytest.raises(DocentError, match="docent ingest"):
        remove(tmp_path, ["x"])


def test_gather_reads_rows_across_vector_chunks():
    chunks = [np.arange(6, dtype=np.float32).reshape(3, 2), np.arange(6, 10, dtype=np.float32).reshape(2, 2)]
    rows = gather(Rows(chunks, 2), [4, 0, 3])
    assert rows.dtype == np.float32 and rows.tolist() == [[8.0, 9.0], [0.0, 1.0], [6.0, 7.0]]
    assert gather(np.vstack(chunks), [4, 0, 3]).tolist() == rows.tolist()
