"""Build a new index generation from records, reusing vectors of unchanged text."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import secrets
import shutil
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import faiss
import numpy as np

from corpus.errors import DocentError
from corpus.model import Record
from embeddings.collection import (
    CURRENT,
    FORMAT_VERSION,
    INDEX,
    MANIFEST,
    STORE,
    VECTORS,
    Collection,
    corpus_checksum,
    current_generation,
    file_digest,
    fsync_dir,
    write_atomically,
)
from embeddings.encoder import Encoder
from embeddings.store import write_store


@dataclass
class IngestReport:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    embedded: int = 0
    reused: int = 0
    total: int = 0
    generation: str = ""
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{self.added} added, {self.updated} updated, {self.unchanged} unchanged, {self.removed} removed; "
            f"{self.embedded} embedded, {self.reused} vectors reused; {self.total} records in the index"
        )


def text_hash(record: Record, model: str) -> str:
    return hashlib.sha256(f"{model}\n{record.embedding_text()}".encode("utf-8")).hexdigest()[:24]


def _versions() -> dict[str, str]:
    versions = {}
    for package in ("archive-docent", "faiss-cpu", "sentence-transformers", "torch", "numpy"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return versions


@contextmanager
def ingest_lock(data_dir: Path):
    """One writer per data directory; a second ingest fails fast instead of racing."""
    handle = (data_dir / ".ingest.lock").open("w")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DocentError(f"another ingest is running on {data_dir}; wait for it to finish") from None
        yield
    finally:
        handle.close()


def ingest(
    data_dir: Path,
    records: list[Record],
    encoder: Encoder,
    *,
    replace: bool = False,
    batch_size: int = 64,
    progress: bool = False,
) -> IngestReport:
    """Upsert ``records`` into the collection in ``data_dir`` (or replace it)."""
    started = time.perf_counter()
    data_dir.mkdir(parents=True, exist_ok=True)
    with ingest_lock(data_dir):
        report = IngestReport()
        existing: Collection | None = None
        if current_generation(data_dir) is not None:
            existing = Collection.open(data_dir, model=encoder.name, dimension=encoder.dimension)
        try:
            merged, vectors, todo = _merge(existing, records, encoder, replace, report)
            if todo:
                texts = [merged[i].embedding_text() for i in todo]
                vectors[todo] = encoder.encode(texts, batch_size=batch_size, progress=progress)
            report.embedded = len(todo)
            report.reused = len(merged) - len(todo)
        finally:
            if existing is not None:
                existing.close()
        report.total = len(merged)
        report.generation = _write_generation(data_dir, merged, vectors, encoder)
        _remove_old_generations(data_dir, keep=report.generation)
    report.seconds = time.perf_counter() - started
    return report


def _merge(existing: Collection | None, records: list[Record], encoder: Encoder, replace: bool, report: IngestReport):
    """Merge incoming records into the existing ones by id; decide what to embed."""
    old_by_id: dict[str, tuple[int, str]] = {}
    old_by_text: dict[str, int] = {}
    old_records: list[Record] = []
    old_vectors = None
    if existing is not None:
        old_vectors = existing.vectors()
        for row in existing.store.rows():
            old_by_id[row.id] = (row.pos, row.content_hash)
            old_by_text.setdefault(row.text_hash, row.pos)
        if not replace:
            old_records = list(existing.store.records())
    merged: dict[str, Record] = {r.id: r for r in old_records}
    for record in records:
        prior = old_by_id.get(record.id)
        if prior is None:
            report.added += 1
        elif prior[1] == record.content_hash:
            report.unchanged += 1
        else:
            report.updated += 1
        merged[record.id] = record
    if replace:
        report.removed = sum(1 for rid in old_by_id if rid not in merged)
    ordered = list(merged.values())
    vectors = np.zeros((len(ordered), encoder.dimension), dtype=np.float32)
    todo: list[int] = []
    for i, record in enumerate(ordered):
        source = old_by_text.get(text_hash(record, encoder.name))
        if source is not None and old_vectors is not None:
            vectors[i] = old_vectors[source]
        else:
            todo.append(i)
    return ordered, vectors, todo


def _write_generation(data_dir: Path, records: list[Record], vectors: np.ndarray, encoder: Encoder) -> str:
    name = f"gen-{time.strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(3)}"
    tmp = data_dir / f".tmp-{name}"
    tmp.mkdir()
    try:
        write_store(tmp / STORE, ((pos, r, text_hash(r, encoder.name)) for pos, r in enumerate(records)))
        np.save(tmp / VECTORS, vectors)
        index = faiss.IndexFlatIP(encoder.dimension)
        if len(vectors):
            index.add(vectors)
        faiss.write_index(index, str(tmp / INDEX))
        files = {}
        for filename in (STORE, VECTORS, INDEX):
            path = tmp / filename
            with path.open("rb+") as handle:
                os.fsync(handle.fileno())
            files[filename] = {"size": path.stat().st_size, "sha256": file_digest(path)}
        dates = [r.earliest for r in records if r.earliest]
        manifest = {
            "format_version": FORMAT_VERSION,
            "model": encoder.name,
            "dimension": encoder.dimension,
            "record_count": len(records),
            "corpus_checksum": corpus_checksum([(r.id, r.content_hash) for r in records]),
            "index_type": "flat-ip",
            "date_span": [min(dates) if dates else None, max((r.latest for r in records if r.latest), default=None)],
            "undated": sum(1 for r in records if not r.earliest),
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "versions": _versions(),
            "files": files,
        }
        write_atomically(tmp / MANIFEST, json.dumps(manifest, indent=2))
        os.rename(tmp, data_dir / name)
        fsync_dir(data_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    write_atomically(data_dir / CURRENT, name + "\n")
    return name


def _remove_old_generations(data_dir: Path, keep: str) -> None:
    for child in data_dir.iterdir():
        if child.is_dir() and child.name != keep and (child.name.startswith("gen-") or child.name.startswith(".tmp-gen-")):
            shutil.rmtree(child, ignore_errors=True)
