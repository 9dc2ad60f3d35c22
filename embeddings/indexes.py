"""The FAISS index of a generation: exact flat search when small, IVF when large.

A flat inner-product search reads every vector: ~0.16 ms per 1,000 records on
this kind of machine, so ~3 ms at 20,000 records but ~15 ms at 100k and ~150
ms at 1M, more than encoding the question. Above ``FLAT_MAX_RECORDS`` an
inverted-file index (IVF: k-means cells, the ``IVF_NPROBE`` cells nearest the
question scanned exactly) answers in 1-3 ms at those sizes.

IVF rather than HNSW by default because of what was measured (bench,
docs/performance.md): in collections whose records crowd around the same
subjects, the 10 best matches of a question lie a few hundredths of cosine
apart, and an HNSW graph (M=32) found only 65-82 % of them at 1M records
(efSearch 128-768), where IVF with 4,000 cells finds 97 % of them scanning
32 cells (0.7 ms with product-coded cells and exact rescoring, see
``cell_codes``; 98.5 % with 64 cells; measured on the dev questions,
docs/performance.md), trains and adds a million vectors in a minute or two
instead of ~5, and takes additions without rebuilding. HNSW stays available
(``index_type = "hnsw"``).

Indexes are read with ``IO_FLAG_MMAP_IFC``: flat and half-precision vectors
are mapped from the file instead of copied, and pages load on demand;
product-coded cells, which FAISS cannot map, are read whole (112 MB, 0.12 s
at 1M records). A mapped index is read-only;
``extend`` works on a fully loaded copy.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import faiss
import numpy as np

from corpus.errors import ConfigError
from embeddings.vectors import blocks

FLAT = "flat"
IVF = "ivf"
HNSW = "hnsw"
INDEX_TYPES = ("auto", FLAT, IVF, HNSW)
APPROXIMATE = (IVF, HNSW)
# Up to this many records the exact flat index is used (search ≤ ~3 ms).
FLAT_MAX_RECORDS = 20_000
# Cells scanned per question. Recall@10 against exact search on the dev
# questions, 1M / 100k records: 16 → 0.944 / 0.963, 32 → 0.967 / 0.982,
# 64 → 0.985 / 0.995; each doubling costs ~1 ms at 1M.
IVF_NPROBE = 32
# Cells trained on at least this many vectors each (k-means needs ~40).
IVF_POINTS_PER_LIST = 40
# Product-quantized cells (cell_codes) are trained on at least this many rows.
PQ_MIN_TRAINING_ROWS = 1_000
# Candidates asked of product-quantized cells per result kept after rescoring,
# and at least this many: recall@10 at 1M records is 0.93 with 100
# candidates, 0.967 with 300 (docs/performance.md).
RESCORE_FACTOR = 3
RESCORE_MIN = 300
# An IVF index is retrained once the collection has grown past this multiple
# of the rows its cells were trained on (the cells would grow unbalanced).
IVF_RETRAIN_GROWTH = 4
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 128
# Rows appended after an approximate index was built are searched exactly
# (~1.5 ms per 10,000 rows) until there are this many; then they are added to it.
DELTA_MAX_ROWS = 10_000


def choose(setting: str, records: int, flat_max_records: int = FLAT_MAX_RECORDS, current: str | None = None) -> str:
    """The index type for ``records`` live records. An approximate index is
    kept until the collection shrinks well below the threshold, so a
    collection hovering around it is not rebuilt at every ingest."""
    if setting not in INDEX_TYPES:
        raise ConfigError(f"index_type must be one of {', '.join(INDEX_TYPES)}, got {setting!r}")
    if setting != "auto":
        return setting
    limit = flat_max_records * 0.8 if current in APPROXIMATE else flat_max_records
    return FLAT if records <= limit else IVF


def ivf_lists(rows: int) -> int:
    """Cells for ``rows`` vectors: ~4·√rows (4,000 at 1M), each trained on enough points."""
    return max(1, min(65536, int(4 * math.sqrt(rows)), rows // IVF_POINTS_PER_LIST))


def _sample(vectors, rows: int, size: int) -> np.ndarray:
    """Evenly spaced rows, so training is deterministic and covers the whole collection."""
    positions = np.unique(np.linspace(0, rows - 1, num=min(rows, size)).astype(np.int64))
    return np.ascontiguousarray(vectors[positions], dtype=np.float32)


def new_index(kind: str, dimension: int, vectors=None, rows: int = 0) -> faiss.Index:
    if kind == FLAT:
        return faiss.IndexFlatIP(dimension)
    if kind == IVF:
        lists = ivf_lists(rows)
        sample = _sample(vectors, rows, lists * IVF_POINTS_PER_LIST)
        # The factory makes the index own its quantizer, and returns the concrete class.
        index = faiss.index_factory(dimension, f"IVF{lists},{cell_codes(dimension, len(sample))}", faiss.METRIC_INNER_PRODUCT)
        index.train(sample)
        index.nprobe = min(IVF_NPROBE, lists)
        return index
    index = faiss.IndexHNSWFlat(dimension, HNSW_M, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    index.hnsw.efSearch = HNSW_EF_SEARCH
    return index


def cell_codes(dimension: int, training_rows: int) -> str:
    """How an IVF index stores its cells' vectors (a FAISS factory string).

    4-bit product-quantization codes, one sub-quantizer per two dimensions,
    scanned with SIMD lookup tables ("fast scan"): at 1M records a search
    takes 0.5 ms instead of 1.1 ms with half-precision cells, and the index
    file is 96 bytes a record instead of 768. The codes only choose
    candidates: the search asks for ``rescore_depth`` of them and rescores
    them with the stored float32 vectors, which finds the exact top 10 as
    often as the half-precision cells do (recall@10 0.967 at 1M, nprobe 32;
    docs/performance.md). The codes' 16 centroids per sub-quantizer need a
    few hundred training rows; an index forced onto fewer keeps
    half-precision cells."""
    if training_rows >= PQ_MIN_TRAINING_ROWS:
        return f"PQ{dimension // 2 if dimension % 2 == 0 else dimension}x4fs"
    return "SQfp16"


def rescore_depth(index: faiss.Index, k: int) -> int:
    """How many candidates to ask ``index`` for, to return the best ``k`` after exact rescoring."""
    if isinstance(index, faiss.IndexIVFPQFastScan):
        return max(k * RESCORE_FACTOR, RESCORE_MIN)
    return k


def extend(index: faiss.Index, vectors, start: int, stop: int) -> None:
    """Add rows [start, stop) of ``vectors`` (rows stay ids: FAISS numbers them in order)."""
    assert index.ntotal == start, (index.ntotal, start)
    for first, block in blocks(vectors, start):
        if first >= stop:
            break
        index.add(np.ascontiguousarray(block[: stop - first], dtype=np.float32))


def build(kind: str, dimension: int, vectors, rows: int) -> faiss.Index:
    index = new_index(kind, dimension, vectors, rows)
    extend(index, vectors, 0, rows)
    return index


def load(path: Path, *, writable: bool = False) -> faiss.Index:
    # read_index already returns the concrete class; downcasting again would
    # leave a second proxy that outlives the C++ object.
    index = faiss.read_index(str(path), 0 if writable else faiss.IO_FLAG_MMAP_IFC)
    tune(index)
    return index


def tune(index: faiss.Index) -> None:
    """Search-time settings, applied at load so that changing them needs no re-ingest."""
    if isinstance(index, faiss.IndexIVF):
        index.nprobe = min(IVF_NPROBE, index.nlist)
    elif isinstance(index, faiss.IndexHNSW):
        index.hnsw.efSearch = HNSW_EF_SEARCH


def lossy(index: faiss.Index) -> bool:
    """Whether the index's scores are approximations of the inner products
    (vectors stored in reduced precision), not just its choice of rows."""
    return isinstance(index, (faiss.IndexIVFScalarQuantizer, faiss.IndexIVFPQFastScan))


def kind_of(index: faiss.Index) -> str:
    if isinstance(index, faiss.IndexIVF):
        return IVF
    return HNSW if isinstance(index, faiss.IndexHNSW) else FLAT


def describe(index: faiss.Index, trained_rows: int | None = None) -> dict:
    """The manifest's record of how an approximate index was built."""
    if isinstance(index, faiss.IndexIVF):
        codes = "Flat"
        if isinstance(index, faiss.IndexIVFPQFastScan):
            codes = f"PQ{index.M}x4fs"
        elif isinstance(index, faiss.IndexIVFScalarQuantizer):
            codes = "SQfp16"
        return {"ivf": {"lists": int(index.nlist), "nprobe": int(index.nprobe), "codes": codes, "trained_rows": int(trained_rows or index.ntotal)}}
    if isinstance(index, faiss.IndexHNSW):
        return {"hnsw": {"M": HNSW_M, "ef_construction": HNSW_EF_CONSTRUCTION, "ef_search": int(index.hnsw.efSearch)}}
    return {}


@contextmanager
def one_thread() -> Iterator[None]:
    """FAISS on one OpenMP thread within the block, in the calling thread.

    A question is one FAISS query, which OpenMP threads cannot split; but
    once a call has started a team, its idle worker spins for a while after
    every call, on the core the encoder process or another request needs
    (measured at 100k records, one client: 18 → 11 ms of the service's CPU
    per answer, 38 → 47 answers/s). OpenMP keeps the thread count per calling
    thread (libgomp stores it with the thread's task, and new threads start
    from the default of one per core), so it is set around each call, not
    once at start-up: that would reach only the thread that opened the index."""
    previous = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(previous)


def search_params(index: faiss.Index, selector=None, k: int = 0):
    """Parameters for a search restricted by ``selector`` (None: no parameters)."""
    if selector is None:
        return None
    if isinstance(index, faiss.IndexIVF):
        return faiss.SearchParametersIVF(sel=selector, nprobe=index.nprobe)
    if isinstance(index, faiss.IndexHNSW):
        return faiss.SearchParametersHNSW(sel=selector, efSearch=max(index.hnsw.efSearch, k))
    return faiss.SearchParameters(sel=selector)


def bitmap_selector(allowed: np.ndarray):
    """A selector of the rows marked in ``allowed``, and the packed bitmap it
    points into, which the caller must keep alive as long as the selector."""
    bitmap = np.packbits(allowed, bitorder="little")
    return faiss.IDSelectorBitmap(len(allowed), faiss.swig_ptr(bitmap)), bitmap


def live_rows(rows: int, dead: np.ndarray) -> np.ndarray | None:
    """A mask of the rows still in use, or None when none were removed."""
    if not len(dead):
        return None
    alive = np.ones(rows, dtype=bool)
    alive[dead[dead < rows]] = False
    return alive
