"""Collections of any size, scaled up synthetically from the real corpus.

Encoding a million texts would take this machine days, so synthetic records
get vectors *drawn near real ones* instead of being encoded:

- record ``syn-0000042`` takes the title of a random real record and a
  summary of 2 to 4 sentences from the summaries of other random real
  records, and the date of yet another, so the lexical index sees the
  corpus's own vocabulary and term frequencies at the larger scale;
- its vector is a random convex mixture (Dirichlet weights) of the vectors of
  the records its title and sentences came from, plus Gaussian noise
  (``NOISE`` per dimension, in units of 1/sqrt(dimension)), normalised. So
  the vectors fill the space between real records, as a larger collection on
  the same subjects would. The first version drew each vector near one real
  record; at 1M that made ~550 near-copies of every record, the exact top 10
  of a question were 10 of them a noise apart, and recall@10 (0.34) measured
  the noise rather than the index.

Synthetic collections go through the real ``ingest`` (with an encoder that
looks the vectors up instead of computing them) and are cached under the
work directory, keyed by everything that shapes them.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from corpus.loaders import load_files
from corpus.model import Record
from embeddings import indexes
from embeddings.collection import FORMAT_VERSION, Collection
from embeddings.ingest import ingest

NOISE = 0.4
SEED = 7
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")


def parse_scale(text: str) -> int | str:
    """"real", or a record count such as "100k", "1m", "250000"."""
    text = text.strip().lower()
    if text == "real":
        return "real"
    factor = {"k": 1_000, "m": 1_000_000}.get(text[-1:], 1)
    number = text[:-1] if factor > 1 else text
    return int(float(number) * factor)


class LookupEncoder:
    """An Encoder that returns precomputed vectors for known texts."""

    def __init__(self, name: str, vectors: dict[str, np.ndarray], dimension: int) -> None:
        self.name, self.dimension, self._vectors = name, dimension, vectors
        self.encoded = 0

    def encode(self, texts: list[str], *, batch_size: int = 64, progress: bool = False) -> np.ndarray:
        self.encoded += len(texts)
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([self._vectors[t] for t in texts])


def synthetic(real: list[Record], real_vectors: np.ndarray, count: int, seed: int = SEED, first: int = 0) -> Iterator[tuple[Record, np.ndarray]]:
    """``count`` synthetic records numbered from ``first``, each with its vector."""
    rng = np.random.default_rng([seed, first])
    sentences = [(s, i) for i, r in enumerate(real) for s in _SENTENCE.split(r.summary) if s]
    dimension = real_vectors.shape[1]
    for n in range(first, first + count):
        base, dated = rng.integers(len(real), size=2)
        picks = [sentences[i] for i in rng.integers(len(sentences), size=int(rng.integers(2, 5)))]
        source, when = real[base], real[dated]
        record = Record(
            id=f"syn-{n:07d}", title=source.title, date=when.date, earliest=when.earliest, latest=when.latest,
            precision=when.precision, summary=" ".join(text for text, _ in picks), repository=source.repository,
            collection=source.collection,
        )
        sources = [base, *(i for _, i in picks)]
        vector = rng.dirichlet(np.ones(len(sources))).astype(np.float32) @ real_vectors[sources]
        vector = vector / np.linalg.norm(vector) + NOISE * rng.standard_normal(dimension).astype(np.float32) / np.sqrt(dimension)
        yield record, (vector / np.linalg.norm(vector)).astype(np.float32)


def build(work: Path, records_file: Path, real_dir: Path, scale: int, *, index_type: str = "auto", log=print) -> Path:
    """The data directory of a synthetic collection of ``scale`` records (the
    real ones plus synthetic ones), built once and reused while its key holds."""
    real_collection = Collection.open(real_dir)
    items = list(real_collection.store.items())
    real = [record for _, _, record in items]
    real_vectors = np.asarray(real_collection.vectors()[np.asarray([pos for pos, _, _ in items])])
    model, dimension = real_collection.manifest["model"], int(real_collection.manifest["dimension"])
    real_collection.close()
    digest = hashlib.sha256(records_file.read_bytes()).hexdigest()[:16]
    key = {"scale": scale, "seed": SEED, "noise": NOISE, "mix": "dirichlet", "records": digest, "format": FORMAT_VERSION, "index_type": index_type,
           "index": indexes.choose(index_type, scale), "cells": indexes.cell_codes(dimension, scale), "model": model}
    target = work / f"synthetic-{scale}-{hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:10]}"
    stamp = target / "bench.json"
    if stamp.is_file() and json.loads(stamp.read_text())["key"] == key:
        return target / "data"
    shutil.rmtree(target, ignore_errors=True)
    log(f"building a synthetic collection of {scale:,} records in {target} (once; later runs reuse it)")
    started = time.perf_counter()
    extra = max(0, scale - len(real))
    texts: dict[str, np.ndarray] = {r.embedding_text(): v for r, v in zip(real, real_vectors)}
    rows = [*real]
    for record, vector in synthetic(real, real_vectors, extra):
        texts.setdefault(record.embedding_text(), vector)
        rows.append(record)
    report = ingest(target / "data", rows, LookupEncoder(model, texts, dimension), index_type=index_type)
    seconds = time.perf_counter() - started
    stamp.write_text(json.dumps({"key": key, "build_seconds": seconds, "ingest": report.summary()}, indent=2))
    log(f"built in {seconds:.0f} s: {report.summary()}")
    return target / "data"


def real_records(path: Path) -> list[Record]:
    return load_files([path]).records
