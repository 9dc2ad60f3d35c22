"""A generation's vector matrix, stored as immutable chunk files of raw float32.

Row ``pos`` is record ``pos``. An ingest that only adds records writes the
new rows as one more chunk and hard-links the unchanged chunks from the
previous generation, so adding 1,000 vectors to a million costs 1,000 rows
of I/O, and no file of a live generation is ever written to again.
"""

from __future__ import annotations

import bisect
import os
from pathlib import Path

import numpy as np

# More chunks than this are merged into one on the next ingest, so that a
# long series of small ingests does not leave thousands of files to open.
MAX_CHUNKS = 8
LEGACY = "vectors.npy"


def chunk_name(start: int) -> str:
    return f"vectors-{start:010d}.f32"


def write_chunk(path: Path, rows: np.ndarray) -> None:
    with path.open("wb") as handle:
        handle.write(np.ascontiguousarray(rows, dtype=np.float32).tobytes())
        handle.flush()
        os.fsync(handle.fileno())


def open_chunk(path: Path, rows: int, dimension: int) -> np.ndarray:
    if rows == 0:
        return np.zeros((0, dimension), dtype=np.float32)
    return np.memmap(path, dtype=np.float32, mode="r", shape=(rows, dimension))


class Rows:
    """Several chunks read as one matrix, without concatenating them.

    Supports what callers do with a vector matrix: ``len``, ``.shape``, one
    row by position, rows by an array of positions, and row slices.
    """

    def __init__(self, chunks: list[np.ndarray], dimension: int) -> None:
        self.chunks = chunks
        self.starts = [0]
        for chunk in chunks:
            self.starts.append(self.starts[-1] + len(chunk))
        self.shape = (self.starts[-1], dimension)
        self.dtype = np.dtype(np.float32)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key):
        if isinstance(key, (int, np.integer)):
            pos = int(key) + (len(self) if key < 0 else 0)
            if not 0 <= pos < len(self):
                raise IndexError(f"row {key} out of range for {len(self)} rows")
            i = bisect.bisect_right(self.starts, pos) - 1
            return self.chunks[i][pos - self.starts[i]]
        if isinstance(key, slice):
            return self.take(np.arange(*key.indices(len(self))))
        return self.take(np.asarray(key))

    def take(self, positions: np.ndarray) -> np.ndarray:
        positions = positions.astype(np.int64, copy=False)
        out = np.empty((len(positions), self.shape[1]), dtype=np.float32)
        which = np.searchsorted(self.starts, positions, side="right") - 1
        for i in np.unique(which):
            mask = which == i
            out[mask] = self.chunks[i][positions[mask] - self.starts[i]]
        return out

    def blocks(self, start: int = 0, size: int = 16384):
        """Contiguous row blocks from ``start`` on, as (first row, array) pairs; no copies."""
        for first, chunk in zip(self.starts, self.chunks):
            for offset in range(max(0, start - first), len(chunk), size):
                yield first + offset, chunk[offset : offset + size]


def matrix(chunks: list[np.ndarray], dimension: int):
    """One chunk is returned as is (a plain memory map); several as ``Rows``."""
    return chunks[0] if len(chunks) == 1 else Rows(chunks, dimension)


def gather(vectors, positions) -> np.ndarray:
    """The rows at ``positions`` of a vector matrix (array or ``Rows``), as one float32 array."""
    return np.asarray(vectors[np.asarray(positions, dtype=np.int64)], dtype=np.float32)


def blocks(vectors, start: int = 0, size: int = 16384):
    if isinstance(vectors, Rows):
        yield from vectors.blocks(start, size)
        return
    for first in range(start, len(vectors), size):
        yield first, vectors[first : first + size]
