"""Add, update and remove records, embedding only text the index does not hold yet.

The first ingest writes a complete generation. Later ones are incremental
(``embeddings.generation.write_incremental``): a pure addition appends rows,
an update rewrites a record in place when its text is unchanged, and a
removal, or an update of the text, marks the old row dead. Once more than
COMPACT_FRACTION of the rows are dead the collection is rewritten densely,
reusing every stored vector.
"""

from __future__ import annotations

import dataclasses
import fcntl
import hashlib
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import faiss  # noqa: F401 - tests reach FAISS through this module (embeddings.ingest.faiss) to simulate a failed write
import numpy as np

from corpus.errors import DocentError
from corpus.model import Record
from embeddings import indexes
from embeddings.collection import FORMAT_VERSION, Collection, current_generation
from embeddings.encoder import Encoder
from embeddings.generation import Change, Spec, remove_old_generations, write_full, write_incremental

COMPACT_FRACTION = 0.25


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
    index_type: str = ""
    # "new", "incremental", "rebuilt" (compacted or upgraded) or "unchanged"
    mode: str = ""
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{self.added} added, {self.updated} updated, {self.unchanged} unchanged, {self.removed} removed; "
            f"{self.embedded} embedded, {self.reused} vectors reused; {self.total} records in the index "
            f"({self.index_type} index, {self.mode})"
        )


def text_hash(record: Record, model: str) -> str:
    return hashlib.sha256(f"{model}\n{record.embedding_text()}".encode("utf-8")).hexdigest()[:24]


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
    index_type: str = "auto",
    flat_max_records: int = indexes.FLAT_MAX_RECORDS,
) -> IngestReport:
    """Upsert ``records`` into the collection in ``data_dir`` (with ``replace``,
    also remove every record not among them)."""
    started = time.perf_counter()
    spec = Spec(encoder.name, encoder.dimension, index_type, flat_max_records)
    indexes.choose(index_type, 0)
    data_dir.mkdir(parents=True, exist_ok=True)
    with ingest_lock(data_dir):
        report = IngestReport()
        existing = None
        if current_generation(data_dir) is not None:
            existing = Collection.open(data_dir, model=encoder.name, dimension=encoder.dimension)
        try:
            if existing is None:
                unique = {r.id: r for r in records}
                change = Change(append=[(r, text_hash(r, encoder.name)) for r in unique.values()])
                report.added = len(change.append)
            else:
                change = _plan(existing, records, encoder.name, replace, report)
            _embed(change, existing, encoder, batch_size, progress, report)
            _commit(data_dir, existing, change, spec, report)
        finally:
            if existing is not None:
                existing.close()
    report.seconds = time.perf_counter() - started
    return report


def remove(data_dir: Path, ids: list[str], *, index_type: str = "auto", flat_max_records: int = indexes.FLAT_MAX_RECORDS) -> IngestReport:
    """Remove records by id; ids the collection does not hold are listed in ``notes``."""
    started = time.perf_counter()
    with ingest_lock(data_dir):
        existing = Collection.open(data_dir)
        try:
            spec = Spec(existing.manifest["model"], int(existing.manifest["dimension"]), index_type, flat_max_records)
            wanted = list(dict.fromkeys(ids))
            stored = existing.store.rows_for_ids(wanted)
            report = IngestReport(removed=len(stored), notes=[i for i in wanted if i not in stored])
            change = Change(delete=[row.pos for row in stored.values()])
            _commit(data_dir, existing, change, spec, report)
        finally:
            existing.close()
    report.seconds = time.perf_counter() - started
    return report


def _plan(existing: Collection, records: list[Record], model: str, replace: bool, report: IngestReport) -> Change:
    """Compare incoming records with the stored ones by id and content."""
    incoming = {r.id: r for r in records}
    stored = existing.store.rows_for_ids(list(incoming))
    change = Change()
    for rid, record in incoming.items():
        th = text_hash(record, model)
        prior = stored.get(rid)
        if prior is None:
            report.added += 1
            change.append.append((record, th))
        elif prior.content_hash == record.content_hash:
            report.unchanged += 1
        else:
            report.updated += 1
            if prior.text_hash == th:
                change.update.append((prior.pos, record, th))
            else:
                change.delete.append(prior.pos)
                change.append.append((record, th))
    if replace:
        gone = [row.pos for row in existing.store.rows() if row.id not in incoming]
        report.removed = len(gone)
        change.delete.extend(gone)
    return change


def _embed(change: Change, existing: Collection | None, encoder: Encoder, batch_size: int, progress: bool, report: IngestReport) -> None:
    """Vectors for the appended rows: stored ones for text the index already
    holds (under any id), each distinct new text encoded once."""
    hashes = list(dict.fromkeys(th for _, th in change.append))
    stored = existing.store.positions_for_texts(hashes) if existing is not None and hashes else {}
    todo = {th: r.embedding_text() for r, th in change.append if th not in stored}
    encoded = encoder.encode(list(todo.values()), batch_size=batch_size, progress=progress) if todo else None
    fresh = {th: i for i, th in enumerate(todo)}
    vectors = np.empty((len(change.append), encoder.dimension), dtype=np.float32)
    reuse_rows = [i for i, (_, th) in enumerate(change.append) if th not in fresh]
    if reuse_rows:
        vectors[reuse_rows] = existing.vectors()[np.asarray([stored[change.append[i][1]] for i in reuse_rows])]
    for i, (_, th) in enumerate(change.append):
        if th in fresh:
            vectors[i] = encoded[fresh[th]]
    change.vectors = vectors
    report.embedded = len(todo)


def _commit(data_dir: Path, existing: Collection | None, change: Change, spec: Spec, report: IngestReport) -> None:
    if existing is None:
        report.generation, report.mode = write_full(data_dir, change.append, change.vectors, spec), "new"
    else:
        dead = len(existing.dead) + len(change.delete)
        rows = existing.rows + len(change.append)
        live = rows - dead
        kind = indexes.choose(spec.index_type, live, spec.flat_max_records, current=indexes.kind_of(existing.index))
        spec = dataclasses.replace(spec, index_type=kind)
        if existing.manifest["format_version"] == 1 or dead > COMPACT_FRACTION * rows:
            records, vectors = _compacted(existing, change)
            report.generation, report.mode = write_full(data_dir, records, vectors, spec), "rebuilt"
        elif change.empty() and kind == indexes.kind_of(existing.index) and existing.manifest["format_version"] == FORMAT_VERSION:
            report.generation, report.mode = existing.path.name, "unchanged"
        else:
            report.generation, report.mode = write_incremental(data_dir, existing, change, spec), "incremental"
    remove_old_generations(data_dir, keep=report.generation)
    final = Collection.open(data_dir, verify=False)
    report.total, report.index_type = final.count, final.manifest["index_type"]
    report.reused = report.total - report.embedded if report.mode != "unchanged" else report.total
    final.close()


def _compacted(existing: Collection, change: Change) -> tuple[list[tuple[Record, str]], np.ndarray]:
    """Every live record densely renumbered (the appended ones last), with its vector."""
    dead = set(change.delete)
    updated = {pos: (record, th) for pos, record, th in change.update}
    records: list[tuple[Record, str]] = []
    sources: list[int] = []
    for pos, th, record in existing.store.items():
        if pos not in dead:
            records.append(updated.get(pos, (record, th)))
            sources.append(pos)
    vectors = np.empty((len(records) + len(change.append), int(existing.manifest["dimension"])), dtype=np.float32)
    if sources:
        vectors[: len(sources)] = existing.vectors()[np.asarray(sources)]
    vectors[len(sources) :] = change.vectors if change.vectors is not None else 0
    return records + change.append, vectors
