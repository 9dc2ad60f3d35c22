import json

import numpy as np
import pytest

from corpus.errors import DocentError, IndexCorruptError, IndexMismatchError, IndexMissingError
from corpus.loaders import load_files
from corpus.model import Record
from embeddings.collection import CURRENT, INDEX, MANIFEST, Collection, current_generation
from embeddings.encoder import HashingEncoder
from embeddings.ingest import ingest, ingest_lock
from tests.conftest import TINY


class CountingEncoder(HashingEncoder):
    def __init__(self):
        super().__init__()
        self.encoded = 0

    def encode(self, texts, **kwargs):
        self.encoded += len(texts)
        return super().encode(texts, **kwargs)


def records():
    return load_files([TINY]).records


def test_manifest_describes_the_index(tiny_index):
    collection = Collection.open(tiny_index.data_dir, model="hashing")
    m = collection.manifest
    assert m["record_count"] == 8 and m["dimension"] == 256 and m["model"] == "hashing"
    assert m["date_span"] == ["1946-02-22", "1957-10-31"] and m["undated"] == 1
    assert len(m["corpus_checksum"]) == 64 and m["created_at"].endswith("Z")
    assert {"faiss-cpu", "numpy", "archive-docent"} <= set(m["versions"])
    assert collection.index.ntotal == 8
    collection.close()


def test_reingest_of_unchanged_records_embeds_nothing(tmp_path):
    encoder = CountingEncoder()
    first = ingest(tmp_path, records(), encoder)
    assert (first.added, first.embedded) == (8, 8)
    again = ingest(tmp_path, records(), encoder)
    assert (again.added, again.unchanged, again.embedded, again.reused) == (0, 8, 0, 8)
    assert encoder.encoded == 8


def test_update_and_add_embed_only_what_changed(tmp_path):
    encoder = CountingEncoder()
    ingest(tmp_path, records(), encoder)
    changed = records()[0]
    changed = Record(**{**{f: getattr(changed, f) for f in changed.__struct_fields__}, "summary": "A new summary."})
    extra = Record(id="new", title="A new record", date="1950", summary="New.")
    report = ingest(tmp_path, [changed, extra], encoder)
    assert (report.added, report.updated, report.embedded, report.total) == (1, 1, 2, 9)
    collection = Collection.open(tmp_path, model="hashing")
    assert collection.store.by_id(changed.id).summary == "A new summary."
    # The vector of the updated record is the new text's, not a stale one.
    pos = next(r.pos for r in collection.store.rows() if r.id == changed.id)
    expected = HashingEncoder().encode([changed.embedding_text()])[0]
    assert np.allclose(collection.vectors()[pos], expected)
    collection.close()


def test_replace_drops_records_not_in_the_new_input(tmp_path):
    ingest(tmp_path, records(), HashingEncoder())
    report = ingest(tmp_path, records()[:3], HashingEncoder(), replace=True)
    assert (report.removed, report.total) == (5, 3)


def test_failed_ingest_leaves_the_previous_generation(tmp_path, monkeypatch):
    ingest(tmp_path, records(), HashingEncoder())
    before = current_generation(tmp_path)

    def broken_write_index(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("embeddings.ingest.faiss.write_index", broken_write_index)
    with pytest.raises(OSError):
        ingest(tmp_path, [Record(id="x", title="X", summary="x")], HashingEncoder())
    assert current_generation(tmp_path) == before
    assert [p.name for p in tmp_path.iterdir() if p.is_dir()] == [before.name]
    assert Collection.open(tmp_path, model="hashing").count == 8


def test_missing_index_is_a_clear_error(tmp_path):
    with pytest.raises(IndexMissingError, match="docent ingest"):
        Collection.open(tmp_path)


def test_other_model_is_refused(tiny_index):
    with pytest.raises(IndexMismatchError, match="built with model 'hashing'"):
        Collection.open(tiny_index.data_dir, model="all-MiniLM-L6-v2")


@pytest.mark.parametrize("damage", ["truncate", "flip", "delete", "manifest"])
def test_damaged_index_names_the_file(tiny_index, damage):
    generation = current_generation(tiny_index.data_dir)
    target = generation / (MANIFEST if damage == "manifest" else INDEX)
    data = target.read_bytes()
    if damage == "truncate":
        target.write_bytes(data[: len(data) // 2])
    elif damage == "flip":
        target.write_bytes(data[:-10] + bytes(b ^ 0xFF for b in data[-10:]))
    elif damage == "delete":
        target.unlink()
    else:
        target.write_text("{ not json")
    with pytest.raises(IndexCorruptError) as info:
        Collection.open(tiny_index.data_dir, model="hashing")
    assert str(target) in str(info.value)


def test_pointer_to_missing_generation(tiny_index):
    (tiny_index.data_dir / CURRENT).write_text("gen-does-not-exist\n")
    with pytest.raises(IndexCorruptError, match="gen-does-not-exist"):
        Collection.open(tiny_index.data_dir)


def test_concurrent_ingest_is_refused(tmp_path):
    with ingest_lock(tmp_path):
        with pytest.raises(DocentError, match="another ingest is running"):
            ingest(tmp_path, records(), HashingEncoder())


def test_lexical_search_folds_diacritics_and_stems(tmp_path):
    rows = [
        Record(id="g", title="Conversation with Władysław Gomułka", summary="Talks in Warsaw."),
        Record(id="c", title="Telegram", summary="Mao asks for personal clarifications."),
    ]
    ingest(tmp_path, rows, HashingEncoder())
    store = Collection.open(tmp_path).store
    assert [p for p, _ in store.lexical(["gomulka"], 5)] == [0]
    assert [p for p, _ in store.lexical(["clarification"], 5)] == [1]
