"""A collection on disk: generations of (records, vectors, FAISS index, manifest).

Layout of a data directory::

    CURRENT                     name of the live generation (replaced atomically)
    gen-<time>-<rand>/          one complete, immutable index generation
        manifest.json           model, dimension, counts, index type, corpus checksum, file digests, versions
        records.sqlite          the records and their FTS5 lexical index (row pos = vector row = FAISS id)
        vectors-<start>.f32     float32 rows from <start> on, L2-normalised (one or more chunks)
        index.faiss             inner-product index: exact flat, or IVF / HNSW over the first ``index_rows`` rows
        deleted.i64             rows of removed or replaced records, if any (skipped by every search)

An ingest writes a new generation under a temporary name, renames it into
place and only then points CURRENT at it, so a crash at any moment leaves the
previous generation untouched and loadable. Files are never modified once
written; a generation shares its unchanged files with the previous one
through hard links (see ``embeddings.ingest``).
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import faiss
import numpy as np

from corpus.errors import IndexCorruptError, IndexMismatchError, IndexMissingError
from corpus.model import Record
from embeddings import indexes
from embeddings.integrity import damaged, file_digest
from embeddings.store import RecordStore
from embeddings.vectors import LEGACY, matrix, open_chunk

FORMAT_VERSION = 3
# Format 1 (one vectors.npy, no removals) is still read, so an ingest can
# upgrade it; format 2 lacks the store's words column (embeddings.store),
# which the reader then computes and the next ingest adds.
READABLE_FORMATS = (1, 2, 3)
CURRENT = "CURRENT"
MANIFEST = "manifest.json"
STORE = "records.sqlite"
INDEX = "index.faiss"
DELETED = "deleted.i64"

# Derived data kept per generation (Collection.memo): a few recent periods' restrictions.
MEMO_KEPT = 16

__all__ = ["Collection", "Hit", "Restriction", "corpus_checksum", "current_generation", "file_digest", "fsync_dir", "write_atomically"]


def corpus_checksum(pairs) -> str:
    """Checksum over (id, content hash) pairs, independent of order."""
    h = hashlib.sha256()
    for rid, chash in sorted(pairs):
        h.update(f"{rid}\t{chash}\n".encode())
    return h.hexdigest()


def current_generation(data_dir: Path) -> Path | None:
    pointer = data_dir / CURRENT
    if not pointer.is_file():
        return None
    name = pointer.read_text(encoding="utf-8").strip()
    return data_dir / name if name else None


def write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with tmp.open("w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def inner_products(query: np.ndarray, vectors: np.ndarray, positions: np.ndarray) -> np.ndarray:
    out = np.empty(len(positions), dtype=np.float32)
    faiss.fvec_inner_products_by_idx(
        faiss.swig_ptr(out), faiss.swig_ptr(query), faiss.swig_ptr(vectors), faiss.swig_ptr(positions), len(query), 1, len(positions)
    )
    return out


class Hit(NamedTuple):
    pos: int
    score: float


@dataclass(frozen=True)
class Restriction:
    """Rows a search may return: ``mask`` over positions (the exactly
    searched tail reads it) and a FAISS selector over the index's rows,
    removed ones left out. FAISS reads the selector and its ``bitmap``
    through raw pointers, so both live as long as the restriction."""

    mask: np.ndarray
    selector: object
    bitmap: np.ndarray


def read_manifest(generation: Path, data_dir: Path) -> dict:
    path = generation / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        manifest["files"].items()
        int(manifest["record_count"])
        if manifest.get("format_version") != 1:
            int(manifest["rows"]), int(manifest["index_rows"]), [(c["file"], int(c["rows"])) for c in manifest["vector_chunks"]]
    except FileNotFoundError:
        raise IndexCorruptError(f"{path}: missing; {data_dir / CURRENT} points at an incomplete generation") from None
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise IndexCorruptError(f"{path}: damaged manifest ({exc})") from None
    if manifest.get("format_version") not in READABLE_FORMATS:
        raise IndexMismatchError(f"{path}: index format {manifest.get('format_version')} but this version reads formats {READABLE_FORMATS}; re-ingest")
    if manifest["format_version"] == 1:
        manifest.setdefault("rows", manifest["record_count"])
        manifest.setdefault("index_rows", manifest["record_count"])
        manifest.setdefault("vector_chunks", [{"file": LEGACY, "rows": manifest["record_count"]}])
    return manifest


def check_model(generation: Path, manifest: dict, model: str | None, dimension: int | None) -> None:
    """That the index was built by ``model`` with vectors of ``dimension`` (None: not checked)."""
    if model is not None and manifest.get("model") != model:
        raise IndexMismatchError(
            f"{generation / MANIFEST}: the index was built with model {manifest.get('model')!r} but the service is set to {model!r}; "
            "re-ingest with this model or set DOCENT_MODEL to the index's model"
        )
    if dimension is not None and manifest.get("dimension") != dimension:
        raise IndexMismatchError(f"{generation / MANIFEST}: index dimension {manifest.get('dimension')} does not match the model's {dimension}")


def check_files(generation: Path, manifest: dict, *, verify: bool, full: bool = False) -> None:
    for name, expected in manifest["files"].items():
        path = generation / name
        if not path.is_file():
            raise IndexCorruptError(f"{path}: missing from the index generation")
        if damaged(path, expected, verify=verify, full=full):
            raise IndexCorruptError(f"{path}: damaged (size or checksum differs from {MANIFEST}); re-ingest to rebuild it")


class Collection:
    """One loaded generation: manifest, record store, vectors and FAISS index."""

    def __init__(self, path: Path, manifest: dict, store: RecordStore, index: faiss.Index, chunks: list[np.ndarray], dead: np.ndarray) -> None:
        self.path = path
        self.manifest = manifest
        self.store = store
        self.index = index
        self.dead = dead
        self._chunks = chunks
        self._vectors = matrix(chunks, int(manifest["dimension"])) if chunks else None
        # Removed rows are skipped by a selector; FAISS keeps raw pointers to it and its bitmap.
        alive = indexes.live_rows(index.ntotal, dead)
        self._selector = indexes.bitmap_selector(alive) if alive is not None else (None, None)
        self._params = indexes.search_params(index, self._selector[0])
        # Chunks appended after an approximate index was built are searched exactly.
        self._tail: list[tuple[int, np.ndarray]] = []
        start = 0
        for chunk in chunks:
            if start >= index.ntotal and len(chunk):
                self._tail.append((start, chunk))
            start += len(chunk)
        self._dead_set = set(dead.tolist()) if self._tail and len(dead) else set()
        self._memo: OrderedDict = OrderedDict()
        self._memo_lock = threading.Lock()

    @property
    def count(self) -> int:
        return int(self.manifest["record_count"])

    @property
    def rows(self) -> int:
        return int(self.manifest["rows"])

    @classmethod
    def open(cls, data_dir: Path, *, model: str | None = None, dimension: int | None = None, verify: bool = True, full_verify: bool = False) -> "Collection":
        """Load the current generation. ``verify`` hashes small files fully and
        large ones by sampled blocks (embeddings.integrity); ``full_verify``
        hashes every byte; without either only sizes are checked."""
        generation = current_generation(data_dir)
        if generation is None:
            raise IndexMissingError(f"no index in {data_dir} (no {CURRENT} file): run 'docent ingest FILE --data-dir {data_dir}' first")
        manifest = read_manifest(generation, data_dir)
        check_model(generation, manifest, model, dimension)
        dim = manifest.get("dimension")
        check_files(generation, manifest, verify=verify or full_verify, full=full_verify)
        try:
            index = indexes.load(generation / INDEX)
        except RuntimeError as exc:
            raise IndexCorruptError(f"{generation / INDEX}: cannot be read by FAISS ({str(exc).splitlines()[0]})") from None
        chunks = [cls._chunk(generation, c, dim, manifest) for c in manifest["vector_chunks"]]
        dead = np.fromfile(generation / DELETED, dtype=np.int64) if DELETED in manifest["files"] else np.zeros(0, dtype=np.int64)
        store = RecordStore(generation / STORE)
        count, rows = int(manifest["record_count"]), int(manifest["rows"])
        problems = []
        if index.ntotal != manifest["index_rows"] or index.d != dim:
            problems.append(f"the FAISS index holds {index.ntotal} vectors of {index.d} dimensions")
        if sum(len(c) for c in chunks) != rows or rows - len(dead) != count:
            problems.append(f"the vector files hold {sum(len(c) for c in chunks)} rows, {len(dead)} removed")
        if store.count() != count:
            problems.append(f"the store holds {store.count()} records")
        if problems:
            store.close()
            raise IndexCorruptError(f"{generation}: {'; '.join(problems)}, but the manifest says {count} records in {rows} rows")
        return cls(generation, manifest, store, index, chunks, dead)

    @staticmethod
    def _chunk(generation: Path, chunk: dict, dimension: int, manifest: dict) -> np.ndarray:
        if manifest["format_version"] == 1:
            return np.load(generation / LEGACY, mmap_mode="r")
        return open_chunk(generation / chunk["file"], int(chunk["rows"]), dimension)

    def close(self) -> None:
        self._vectors = None
        self._chunks = []
        self._tail = []
        self.store.close()

    def vectors(self):
        """The vector matrix, memory-mapped (pages load on demand): rows by
        position, by an array of positions, or by slice."""
        if self._vectors is None:
            return np.zeros((0, int(self.manifest["dimension"])), dtype=np.float32)
        return self._vectors

    def cosines(self, query: np.ndarray, positions: list[int]) -> np.ndarray:
        """Exact cosine similarity of ``query`` to the rows at ``positions``,
        computed in place from the mapped rows (no gathered copy: half the
        memory traffic of ``vectors[positions] @ query``)."""
        if not len(positions):
            return np.zeros(0, dtype=np.float32)
        positions = np.asarray(positions, dtype=np.int64)
        query = np.ascontiguousarray(query, dtype=np.float32).reshape(-1)
        vectors = self.vectors()
        if positions.min() < 0 or positions.max() >= len(vectors):
            raise IndexError(f"row positions must be in [0, {len(vectors)})")
        if isinstance(vectors, np.ndarray):
            with indexes.one_thread():
                return inner_products(query, vectors, positions)
        return vectors.take(positions) @ query

    def search(self, query: np.ndarray, k: int, within: "Restriction | None" = None) -> list[Hit]:
        """The ``k`` rows most similar to ``query``, best first; removed rows
        never. ``within`` (``restriction``) limits the search to the rows it
        marks (a filtered search of the index, not a scan)."""
        k = min(k, self.count)
        if k <= 0:
            return []
        q = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
        hits: list[Hit] = []
        if self.index.ntotal:
            fetch = indexes.rescore_depth(self.index, k)
            params = self._params if within is None else indexes.search_params(self.index, within.selector, fetch)
            with indexes.one_thread():
                scores, positions = self.index.search(q, fetch, params=params) if params else self.index.search(q, fetch)
            found = positions[0] >= 0
            positions, scores = positions[0][found], scores[0][found]
            if len(positions) and indexes.lossy(self.index):
                # Coded cells choose the candidates; the scores returned (and
                # compared with the exactly searched tail) are exact.
                scores = self.cosines(q[0], positions)
                order = np.lexsort((positions, -scores))[:k]
                positions, scores = positions[order], scores[order]
            hits = list(map(Hit, positions.tolist(), scores.tolist()))
        if self._tail:
            hits = sorted(hits + self._search_tail(q[0], k, None if within is None else within.mask), key=lambda h: (-h.score, h.pos))[:k]
        return hits

    def restriction(self, within: np.ndarray) -> "Restriction":
        """A search restriction to the rows ``within`` marks (a boolean mask
        over positions; rows past its end are left out), for ``search``."""
        rows = max(self.rows, self.index.ntotal)
        mask = np.zeros(rows, dtype=bool)
        mask[: min(rows, len(within))] = within[:rows]
        allowed = mask[: self.index.ntotal].copy()
        allowed[self.dead[self.dead < len(allowed)]] = False
        selector, bitmap = indexes.bitmap_selector(allowed)
        return Restriction(mask, selector, bitmap)

    def memo(self, key, build):
        """``build()``, kept under ``key`` among this generation's last
        MEMO_KEPT derived values (built outside the lock: two threads may
        both build one, and either result serves)."""
        with self._memo_lock:
            if key in self._memo:
                self._memo.move_to_end(key)
                return self._memo[key]
        value = build()
        with self._memo_lock:
            self._memo[key] = value
            while len(self._memo) > MEMO_KEPT:
                self._memo.popitem(last=False)
        return value

    def _search_tail(self, query: np.ndarray, k: int, within: np.ndarray | None = None) -> list[Hit]:
        found: list[Hit] = []
        for start, chunk in self._tail:
            scores = chunk @ query
            if within is not None:
                scores[~within[start : start + len(chunk)]] = -np.inf
            wanted = k + len(self._dead_set)
            top = np.argpartition(-scores, wanted)[:wanted] if len(scores) > wanted else np.arange(len(scores))
            found.extend(Hit(start + int(i), float(scores[i])) for i in top if start + int(i) not in self._dead_set and np.isfinite(scores[i]))
        return found

    def records_for(self, hits: list[Hit]) -> list[tuple[Record, float]]:
        found = self.store.by_positions([h.pos for h in hits])
        return [(found[h.pos], h.score) for h in hits if h.pos in found]
