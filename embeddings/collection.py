"""A collection on disk: generations of (records, vectors, FAISS index, manifest).

Layout of a data directory::

    CURRENT                 name of the live generation (replaced atomically)
    gen-<time>-<rand>/      one complete, immutable index generation
        manifest.json       model, dimension, counts, corpus checksum, file digests, versions
        records.sqlite      the records (row pos = vector row = FAISS id)
        vectors.npy         float32 [count, dimension], L2-normalised
        index.faiss         inner-product index over the vectors

An ingest writes a new generation under a temporary name, renames it into
place and only then points CURRENT at it, so a crash at any moment leaves the
previous generation untouched and loadable.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

from corpus.errors import IndexCorruptError, IndexMismatchError, IndexMissingError
from corpus.model import Record
from embeddings.store import RecordStore

FORMAT_VERSION = 1
CURRENT = "CURRENT"
MANIFEST = "manifest.json"
STORE = "records.sqlite"
VECTORS = "vectors.npy"
INDEX = "index.faiss"


def file_digest(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def corpus_checksum(pairs: list[tuple[str, str]]) -> str:
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


@dataclass(frozen=True)
class Hit:
    pos: int
    score: float


class Collection:
    """One loaded generation: manifest, record store and FAISS index."""

    def __init__(self, path: Path, manifest: dict, store: RecordStore, index: faiss.Index) -> None:
        self.path = path
        self.manifest = manifest
        self.store = store
        self.index = index
        self._vectors: np.ndarray | None = None

    @property
    def count(self) -> int:
        return int(self.manifest["record_count"])

    @classmethod
    def open(cls, data_dir: Path, *, model: str | None = None, dimension: int | None = None, verify: bool = True) -> "Collection":
        generation = current_generation(data_dir)
        if generation is None:
            raise IndexMissingError(f"no index in {data_dir} (no {CURRENT} file): run 'docent ingest FILE --data-dir {data_dir}' first")
        manifest_path = generation / MANIFEST
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
            files = manifest["files"]
            count = int(manifest["record_count"])
        except FileNotFoundError:
            raise IndexCorruptError(f"{manifest_path}: missing; {data_dir / CURRENT} points at an incomplete generation") from None
        except (ValueError, KeyError, TypeError) as exc:
            raise IndexCorruptError(f"{manifest_path}: damaged manifest ({exc})") from None
        if manifest.get("format_version") != FORMAT_VERSION:
            raise IndexMismatchError(f"{manifest_path}: index format {manifest.get('format_version')} but this version reads format {FORMAT_VERSION}; re-ingest")
        if model is not None and manifest.get("model") != model:
            raise IndexMismatchError(
                f"{manifest_path}: the index was built with model {manifest.get('model')!r} but the service is set to {model!r}; "
                "re-ingest with this model or set DOCENT_MODEL to the index's model"
            )
        if dimension is not None and manifest.get("dimension") != dimension:
            raise IndexMismatchError(f"{manifest_path}: index dimension {manifest.get('dimension')} does not match the model's {dimension}")
        for name, expected in files.items():
            path = generation / name
            if not path.is_file():
                raise IndexCorruptError(f"{path}: missing from the index generation")
            if path.stat().st_size != expected["size"] or (verify and file_digest(path) != expected["sha256"]):
                raise IndexCorruptError(f"{path}: damaged (size or checksum differs from {MANIFEST}); re-ingest to rebuild it")
        try:
            index = faiss.read_index(str(generation / INDEX))
        except RuntimeError as exc:
            raise IndexCorruptError(f"{generation / INDEX}: cannot be read by FAISS ({str(exc).splitlines()[0]})") from None
        store = RecordStore(generation / STORE)
        if index.ntotal != count or store.count() != count or index.d != manifest.get("dimension"):
            store.close()
            raise IndexCorruptError(f"{generation}: the index holds {index.ntotal} vectors and the store {store.count()} records, but the manifest says {count}")
        return cls(generation, manifest, store, index)

    def close(self) -> None:
        self._vectors = None
        self.store.close()

    def vectors(self) -> np.ndarray:
        """The vector matrix, memory-mapped (pages load on demand)."""
        if self._vectors is None:
            self._vectors = np.load(self.path / VECTORS, mmap_mode="r")
        return self._vectors

    def cosines(self, query: np.ndarray, positions: list[int]) -> np.ndarray:
        if not positions:
            return np.zeros(0, dtype=np.float32)
        return self.vectors()[np.asarray(positions)] @ query

    def search(self, query: np.ndarray, k: int) -> list[Hit]:
        k = min(k, self.count)
        if k <= 0:
            return []
        scores, positions = self.index.search(np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32), k)
        return [Hit(int(p), float(s)) for p, s in zip(positions[0], scores[0]) if p >= 0]

    def records_for(self, hits: list[Hit]) -> list[tuple[Record, float]]:
        found = self.store.by_positions([h.pos for h in hits])
        return [(found[h.pos], h.score) for h in hits if h.pos in found]
