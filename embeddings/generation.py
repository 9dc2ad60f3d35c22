"""Writing index generations: a complete rebuild, or an incremental step.

Either way the new generation is written under ``.tmp-<name>``, fsynced,
renamed into place and only then made current, so an interrupted ingest
leaves the previous generation loadable. The incremental step never writes
into a file of the previous generation: unchanged vector chunks (and an approximate
index, while few rows have been appended since it was built) are hard-linked,
the record store is copied and then changed, and new rows go to a new chunk.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import faiss
import numpy as np

from corpus.model import Record
from embeddings import indexes
from embeddings.collection import (
    CURRENT,
    DELETED,
    FORMAT_VERSION,
    INDEX,
    MANIFEST,
    STORE,
    Collection,
    corpus_checksum,
    fsync_dir,
    write_atomically,
)
from embeddings.integrity import describe
from embeddings.store import RecordStore, update_store, write_store
from embeddings.vectors import MAX_CHUNKS, blocks, chunk_name, matrix, open_chunk, write_chunk


@dataclass
class Spec:
    """What kind of index to write: the model's name and dimension, the
    index_type setting and the flat/approximate threshold."""

    model: str
    dimension: int
    index_type: str = "auto"
    flat_max_records: int = indexes.FLAT_MAX_RECORDS


@dataclass
class Change:
    """An incremental step from an existing generation: rows that die,
    rows rewritten in place (same text, same vector), and new rows appended
    after the existing ones, with their vectors."""

    delete: list[int] = field(default_factory=list)
    update: list[tuple[int, Record, str]] = field(default_factory=list)
    append: list[tuple[Record, str]] = field(default_factory=list)
    vectors: np.ndarray | None = None

    def empty(self) -> bool:
        return not (self.delete or self.update or self.append)


def _versions() -> dict[str, str]:
    versions = {}
    for package in ("archive-docent", "faiss-cpu", "sentence-transformers", "torch", "numpy"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return versions


def _fsync(path: Path) -> None:
    with path.open("rb+") as handle:
        os.fsync(handle.fileno())


def _publish(data_dir: Path, tmp: Path, name: str, manifest: dict) -> str:
    write_atomically(tmp / MANIFEST, json.dumps(manifest, indent=2))
    fsync_dir(tmp)
    os.rename(tmp, data_dir / name)
    fsync_dir(data_dir)
    write_atomically(data_dir / CURRENT, name + "\n")
    return name


def _manifest(spec: Spec, store_path: Path, index: faiss.Index, chunks: list[dict], rows: int, dead: int, files: dict, built: dict) -> dict:
    store = RecordStore(store_path)
    try:
        earliest, latest, undated = store.date_span()
        count = store.count()
        checksum = corpus_checksum((r.id, r.content_hash) for r in store.rows())
    finally:
        store.close()
    manifest = {
        "format_version": FORMAT_VERSION,
        "model": spec.model,
        "dimension": spec.dimension,
        "record_count": count,
        "rows": rows,
        "deleted": dead,
        "corpus_checksum": checksum,
        "index_type": indexes.kind_of(index),
        "index_rows": int(index.ntotal),
        "vector_chunks": chunks,
        "date_span": [earliest, latest],
        "undated": undated,
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "versions": _versions(),
        "files": files,
    }
    manifest.update(built)
    return manifest


def _new_tmp(data_dir: Path) -> tuple[str, Path]:
    name = f"gen-{time.strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(3)}"
    tmp = data_dir / f".tmp-{name}"
    tmp.mkdir()
    return name, tmp


def write_full(data_dir: Path, records: list[tuple[Record, str]], vectors: np.ndarray, spec: Spec) -> str:
    """A complete generation: ``records`` (with their text hashes) at positions 0.., ``vectors`` their rows."""
    name, tmp = _new_tmp(data_dir)
    try:
        write_store(tmp / STORE, ((pos, r, th) for pos, (r, th) in enumerate(records)))
        _fsync(tmp / STORE)
        chunks = []
        if len(vectors):
            write_chunk(tmp / chunk_name(0), vectors)
            chunks.append({"file": chunk_name(0), "rows": len(vectors)})
        kind = indexes.choose(spec.index_type, len(records), spec.flat_max_records)
        index = indexes.build(kind, spec.dimension, vectors, len(vectors))
        faiss.write_index(index, str(tmp / INDEX))
        _fsync(tmp / INDEX)
        files = {n: describe(tmp / n) for n in (STORE, INDEX, *(c["file"] for c in chunks))}
        manifest = _manifest(spec, tmp / STORE, index, chunks, len(vectors), 0, files, indexes.describe(index))
        return _publish(data_dir, tmp, name, manifest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_incremental(data_dir: Path, old: Collection, change: Change, spec: Spec) -> str:
    """The previous generation plus ``change``; see the module docstring for what is shared."""
    name, tmp = _new_tmp(data_dir)
    old_files = old.manifest["files"]
    try:
        shutil.copyfile(old.path / STORE, tmp / STORE)
        first_new = old.rows
        update_store(tmp / STORE, change.delete, change.update, [(first_new + i, r, th) for i, (r, th) in enumerate(change.append)])
        _fsync(tmp / STORE)
        files = {STORE: describe(tmp / STORE)}
        chunks = _write_chunks(old, tmp, change, files)
        rows = first_new + len(change.append)
        dead = np.union1d(old.dead, np.asarray(change.delete, dtype=np.int64)).astype(np.int64)
        if len(dead):
            dead.tofile(tmp / DELETED)
            _fsync(tmp / DELETED)
            files[DELETED] = describe(tmp / DELETED)
        vectors = matrix([open_chunk(tmp / c["file"], c["rows"], spec.dimension) for c in chunks], spec.dimension)
        index, built = _next_index(old, vectors, rows, rows - len(dead), spec)
        if index is None:
            os.link(old.path / INDEX, tmp / INDEX)
            files[INDEX] = old_files[INDEX]
            index = old.index
        else:
            faiss.write_index(index, str(tmp / INDEX))
            _fsync(tmp / INDEX)
            files[INDEX] = describe(tmp / INDEX)
        manifest = _manifest(spec, tmp / STORE, index, chunks, rows, len(dead), files, built)
        return _publish(data_dir, tmp, name, manifest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _write_chunks(old: Collection, tmp: Path, change: Change, files: dict) -> list[dict]:
    """Hard-link the previous chunks and add one with the new rows; past
    MAX_CHUNKS, merge them all into one new file instead."""
    chunks = [dict(c) for c in old.manifest["vector_chunks"] if c["rows"]]
    new_rows = change.vectors if change.vectors is not None else np.zeros((0, old.index.d), dtype=np.float32)
    if len(new_rows) and len(chunks) + 1 > MAX_CHUNKS:
        path = tmp / chunk_name(0)
        with path.open("wb") as handle:
            for _, block in blocks(old.vectors()):
                handle.write(np.ascontiguousarray(block, dtype=np.float32).tobytes())
            handle.write(np.ascontiguousarray(new_rows, dtype=np.float32).tobytes())
            handle.flush()
            os.fsync(handle.fileno())
        merged = [{"file": chunk_name(0), "rows": old.rows + len(new_rows)}]
        files[chunk_name(0)] = describe(path)
        return merged
    for chunk in chunks:
        os.link(old.path / chunk["file"], tmp / chunk["file"])
        files[chunk["file"]] = old.manifest["files"][chunk["file"]]
    if len(new_rows):
        name = chunk_name(old.rows)
        write_chunk(tmp / name, new_rows)
        files[name] = describe(tmp / name)
        chunks.append({"file": name, "rows": len(new_rows)})
    return chunks


def _next_index(old: Collection, vectors, rows: int, live: int, spec: Spec) -> tuple[faiss.Index | None, dict]:
    """The index of the next generation (None: share the previous one) and its manifest entry.

    A flat index is rewritten (it is small unless forced, and rewriting is a
    copy). An approximate index is shared while the rows appended since it
    was built stay under DELTA_MAX_ROWS (they are searched exactly), then
    extended with them; an IVF index is retrained only once the collection
    has grown IVF_RETRAIN_GROWTH times past what it was trained on. A change
    of type (the collection crossed flat_max_records, or the setting changed)
    builds the new index from the stored vectors: nothing is re-embedded.
    """
    kind = indexes.choose(spec.index_type, live, spec.flat_max_records)
    built = {key: old.manifest[key] for key in ("ivf", "hnsw") if key in old.manifest}
    trained = built.get("ivf", {}).get("trained_rows", 0)
    if kind != indexes.kind_of(old.index) or kind == indexes.FLAT or (kind == indexes.IVF and rows > indexes.IVF_RETRAIN_GROWTH * trained):
        index = indexes.build(kind, spec.dimension, vectors, rows)
        return index, indexes.describe(index)
    if rows - old.index.ntotal <= indexes.DELTA_MAX_ROWS:
        return None, built
    index = indexes.load(old.path / INDEX, writable=True)
    indexes.extend(index, vectors, index.ntotal, rows)
    return index, indexes.describe(index, trained_rows=trained)


def remove_old_generations(data_dir: Path, keep: str) -> None:
    for child in data_dir.iterdir():
        if child.is_dir() and child.name != keep and (child.name.startswith("gen-") or child.name.startswith(".tmp-gen-")):
            shutil.rmtree(child, ignore_errors=True)
