"""The FAISS index of a generation: exact flat search when small, HNSW when large.

A flat inner-product search reads every vector: ~0.16 ms per 1,000 records on
this kind of machine, so ~3 ms at 20,000 records but ~15 ms at 100k and ~150
ms at 1M, more than encoding the question. Above ``FLAT_MAX_RECORDS`` an HNSW
graph answers in about a millisecond at any of those sizes, with a recall@10
against exact search that ``bench`` measures on real questions (docs/performance.md).

Both are read with ``IO_FLAG_MMAP_IFC``: the stored vectors are mapped from
the file instead of copied, so opening a 1M-record index takes milliseconds
and pages load on demand. A mapped index is read-only; ``extend`` works on a
fully loaded copy.
"""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np

from corpus.errors import ConfigError
from embeddings.vectors import blocks

FLAT = "flat"
HNSW = "hnsw"
INDEX_TYPES = ("auto", FLAT, HNSW)
# Up to this many records the exact flat index is used (search ≤ ~3 ms).
FLAT_MAX_RECORDS = 20_000
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 128
# Rows appended after an HNSW graph was built are searched exactly (~1.5 ms
# per 10,000 rows) until there are this many; then they are added to the graph.
DELTA_MAX_ROWS = 10_000


def choose(setting: str, records: int, flat_max_records: int = FLAT_MAX_RECORDS, current: str | None = None) -> str:
    """The index type for ``records`` live records. An HNSW graph is kept
    until the collection shrinks well below the threshold, so a collection
    hovering around it is not rebuilt at every ingest."""
    if setting not in INDEX_TYPES:
        raise ConfigError(f"index_type must be one of {', '.join(INDEX_TYPES)}, got {setting!r}")
    if setting != "auto":
        return setting
    limit = flat_max_records * 0.8 if current == HNSW else flat_max_records
    return FLAT if records <= limit else HNSW


def new_index(kind: str, dimension: int) -> faiss.Index:
    if kind == FLAT:
        return faiss.IndexFlatIP(dimension)
    index = faiss.IndexHNSWFlat(dimension, HNSW_M, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    index.hnsw.efSearch = HNSW_EF_SEARCH
    return index


def extend(index: faiss.Index, vectors, start: int, stop: int) -> None:
    """Add rows [start, stop) of ``vectors`` (rows stay ids: FAISS numbers them in order)."""
    assert index.ntotal == start, (index.ntotal, start)
    for first, block in blocks(vectors, start):
        if first >= stop:
            break
        index.add(np.ascontiguousarray(block[: stop - first], dtype=np.float32))


def build(kind: str, dimension: int, vectors, rows: int) -> faiss.Index:
    index = new_index(kind, dimension)
    extend(index, vectors, 0, rows)
    return index


def load(path: Path, *, writable: bool = False) -> faiss.Index:
    # read_index already returns the concrete class; downcasting again would
    # leave a second proxy that outlives the C++ object.
    return faiss.read_index(str(path), 0 if writable else faiss.IO_FLAG_MMAP_IFC)


def kind_of(index: faiss.Index) -> str:
    return HNSW if isinstance(index, faiss.IndexHNSW) else FLAT


def search_params(index: faiss.Index, live: np.ndarray | None):
    """Parameters that make a search skip removed rows (``live`` is a packed
    little-endian bitmap of the rows still in use), and the selector, which
    the caller must keep alive as long as the parameters: FAISS holds a raw pointer."""
    if live is None:
        return None, None
    selector = faiss.IDSelectorBitmap(index.ntotal, faiss.swig_ptr(live))
    if kind_of(index) == HNSW:
        return faiss.SearchParametersHNSW(sel=selector, efSearch=index.hnsw.efSearch), selector
    return faiss.SearchParameters(sel=selector), selector


def live_bitmap(rows: int, dead: np.ndarray) -> np.ndarray | None:
    if not len(dead):
        return None
    alive = np.ones(rows, dtype=bool)
    alive[dead[dead < rows]] = False
    return np.packbits(alive, bitorder="little")
