"""Micro-batching: one shared encoder, concurrent questions encoded together.

A transformer encodes 16 short questions in about the time of 4 to 6 single
ones on a CPU, so a service answering many clients at once gains most by
batching. ``BatchingEncoder`` keeps the ``Encoder`` interface; callers on any
thread block on a future while one background thread runs the model:

- a request that finds the encoder idle is encoded at once, alone (a single
  client never waits for company, so its latency does not grow);
- requests that arrive while a batch is being encoded queue up and form the
  next batch (up to ``max_batch`` texts);
- only when the previous batch already had company does the thread linger,
  at most ``max_wait`` seconds, for more requests to fill the batch.

Large jobs (an ingest's thousands of texts) run alone, in order, on the same
thread, so the model is never driven by two threads at once.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections import Counter
from concurrent.futures import Future
from dataclasses import dataclass, field

import numpy as np

from embeddings.encoder import Encoder

_STOP = object()


def serving_threads(setting: int = 0) -> int:
    """torch threads for a serving encoder: ``setting`` if given, else one
    fewer than the cores, leaving one to handle the requests. On a busy
    2-core machine a second intra-op thread makes encoding a question 30×
    slower, not faster (each of the model's ~100 parallel regions waits for a
    thread the scheduler has given to another process): 1 thread, ~17 ms;
    2 threads, 12 ms when the machine is idle but ~500 ms when it is not."""
    return setting if setting > 0 else max(1, (os.cpu_count() or 2) - 1)


@dataclass
class _Job:
    texts: list[str]
    batch_size: int
    progress: bool
    future: Future = field(default_factory=Future)


class BatchingEncoder:
    def __init__(self, encoder: Encoder, *, max_batch: int = 32, max_wait: float = 0.002) -> None:
        self.encoder = encoder
        self.name = encoder.name
        self.dimension = encoder.dimension
        self.max_batch = max(1, max_batch)
        self.max_wait = max(0.0, max_wait)
        # How many batches of each size were encoded (for the benchmark and tuning).
        self.batch_sizes: Counter[int] = Counter()
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="docent-encoder", daemon=True)
        self._thread.start()

    def encode(self, texts: list[str], *, batch_size: int = 64, progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if self._closed:
            raise RuntimeError("the batching encoder is closed")
        job = _Job(list(texts), batch_size, progress)
        self._queue.put(job)
        return job.future.result()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._queue.put(_STOP)
            self._thread.join(timeout=30)

    def _bulk(self, job: _Job) -> bool:
        return job.progress or len(job.texts) >= self.max_batch

    def _run(self) -> None:
        pending = None
        company = False
        while True:
            job, pending = pending or self._queue.get(), None
            if job is _STOP:
                return
            if self._bulk(job):
                self._execute([job], job.batch_size, job.progress)
                continue
            batch, size = [job], len(job.texts)
            deadline = time.monotonic() + self.max_wait
            while size < self.max_batch:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    remaining = deadline - time.monotonic()
                    if not (company or len(batch) > 1) or remaining <= 0:
                        break
                    try:
                        nxt = self._queue.get(timeout=remaining)
                    except queue.Empty:
                        break
                if nxt is _STOP or self._bulk(nxt) or size + len(nxt.texts) > self.max_batch:
                    pending = nxt
                    break
                batch.append(nxt)
                size += len(nxt.texts)
            company = len(batch) > 1
            self._execute(batch, self.max_batch, False)

    def _execute(self, batch: list[_Job], batch_size: int, progress: bool) -> None:
        texts = [text for job in batch for text in job.texts]
        try:
            vectors = self.encoder.encode(texts, batch_size=batch_size, progress=progress)
        except BaseException as exc:  # every waiting caller gets the error, not a hang
            for job in batch:
                job.future.set_exception(exc)
            return
        self.batch_sizes[len(texts)] += 1
        start = 0
        for job in batch:
            job.future.set_result(vectors[start : start + len(job.texts)])
            start += len(job.texts)
