"""Micro-batching: one shared encoder, concurrent questions encoded together.

A transformer encodes 16 short questions in about the time of 4 to 6 single
ones on a CPU, so a service answering many clients at once gains most by
batching. ``BatchingEncoder`` keeps the ``Encoder`` interface and batches by
*leader and followers*, so a lone request pays no thread hand-off:

- a request that finds the encoder idle becomes the leader and encodes at
  once, in its own thread (a single client never waits, so its latency does
  not grow);
- requests that arrive while the leader is encoding queue up as followers;
  when the leader's batch is done it hands the lead to the oldest follower,
  which encodes everything queued (up to ``max_batch`` texts) in one batch;
- only when the previous batch already had company does a leader linger, at
  most ``max_wait`` seconds, for more requests to fill its batch.

The model is only ever run by the current leader, one batch at a time, so it
is never driven by two threads at once. Large jobs (an ingest's thousands of
texts) form a batch of their own.
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from embeddings.encoder import HASHING_MODEL, Encoder, load_encoder
from embeddings.subprocess_encoder import ProcessEncoder


def serving_threads(setting: int = 0) -> int:
    """torch threads for a serving encoder: ``setting`` if given, else one
    fewer than the cores, leaving one to handle the requests. On a busy
    2-core machine a second intra-op thread makes encoding a question 30×
    slower, not faster (each of the model's ~100 parallel regions waits for a
    thread the scheduler has given to another process): 1 thread, ~17 ms;
    2 threads, 12 ms when the machine is idle but ~500 ms when it is not."""
    return setting if setting > 0 else max(1, (os.cpu_count() or 2) - 1)


def serving_encoder(model: str, device: str = "cpu", *, threads: int = 0, process: bool = True, max_batch: int = 32, max_wait: float = 0.002,
                    wait: bool = True) -> "BatchingEncoder":
    """The service's one shared encoder: batching, in front of the model in a
    child process (embeddings.subprocess_encoder; the hashing encoder, which
    is pure Python and used in tests, stays in process). ``wait=False``
    returns while the child is still loading the model."""
    threads = serving_threads(threads)
    if process and model != HASHING_MODEL:
        inner = ProcessEncoder(model, device, threads, wait=wait)
    else:
        inner = load_encoder(model, device, threads)
    return BatchingEncoder(inner, max_batch=max_batch, max_wait=max_wait)


@dataclass
class _Job:
    texts: list[str]
    batch_size: int
    progress: bool
    wake: threading.Event = field(default_factory=threading.Event)
    vectors: np.ndarray | None = None
    error: BaseException | None = None
    promoted: bool = False
    # Called once when the texts are on their way to the model (BatchingEncoder.encode).
    on_sent: Callable[[], None] | None = None
    on_sent_error: BaseException | None = None

    def sent(self) -> None:
        callback, self.on_sent = self.on_sent, None
        try:
            if callback is not None:
                callback()
        except BaseException as exc:  # its caller's, raised to it alone: not the batch's error
            self.on_sent_error = exc

    @property
    def done(self) -> bool:
        return self.vectors is not None or self.error is not None

    def result(self) -> np.ndarray:
        for error in (self.error, self.on_sent_error):
            if error is not None:
                raise error
        return self.vectors


class BatchingEncoder:
    # ``encode`` takes ``on_sent`` (see ``encode_overlapped``).
    overlaps = True

    def __init__(self, encoder: Encoder, *, max_batch: int = 32, max_wait: float = 0.002) -> None:
        self.encoder = encoder
        self.max_batch = max(1, max_batch)
        self.max_wait = max(0.0, max_wait)
        # How many batches of each size were encoded (for the benchmark and tuning).
        self.batch_sizes: Counter[int] = Counter()
        self._arrived = threading.Condition()
        self._pending: deque[_Job] = deque()
        self._leading = False
        self._company = False
        self._closed = False

    # Read through, so that wrapping an encoder still loading does not wait for it.
    @property
    def name(self) -> str:
        return self.encoder.name

    @property
    def dimension(self) -> int:
        return self.encoder.dimension

    def encode(self, texts: list[str], *, batch_size: int = 64, progress: bool = False, on_sent: Callable[[], None] | None = None) -> np.ndarray:
        """``on_sent`` is called once the texts are on their way to the model:
        written to the encoder process, or about to run in this one, or
        queued behind a batch being encoded (see ``encode_overlapped``)."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if self._closed:
            raise RuntimeError("the batching encoder is closed")
        job = _Job(list(texts), batch_size, progress, on_sent=on_sent)
        with self._arrived:
            self._pending.append(job)
            lead = not self._leading
            self._leading = True
            self._arrived.notify()
        if not lead:
            job.sent()
            job.wake.wait()
            if not job.promoted:
                return job.result()
        self._lead(job)
        return job.result()

    def close(self) -> None:
        """Refuse further work and close the wrapped encoder if it can be closed (an encoder process)."""
        self._closed = True
        close = getattr(self.encoder, "close", None)
        if close is not None:
            close()

    def _lead(self, own: _Job) -> None:
        """Encode batches until ``own`` is done, then pass the lead on."""
        try:
            while not own.done:
                self._execute(self._next_batch())
        finally:
            with self._arrived:
                if self._pending:
                    successor = self._pending[0]
                    successor.promoted = True
                    successor.wake.set()
                else:
                    self._leading = False

    def _bulk(self, job: _Job) -> bool:
        return job.progress or len(job.texts) >= self.max_batch

    def _take(self, batch: list[_Job], size: int) -> int:
        """Move queued jobs into ``batch`` while they fit; a bulk job only alone."""
        while self._pending:
            job = self._pending[0]
            if batch and (self._bulk(job) or self._bulk(batch[0]) or size + len(job.texts) > self.max_batch):
                break
            batch.append(self._pending.popleft())
            size += len(job.texts)
        return size

    def _next_batch(self) -> list[_Job]:
        with self._arrived:
            batch: list[_Job] = []
            size = self._take(batch, 0)
            if batch and (self._company or len(batch) > 1) and not self._bulk(batch[0]):
                deadline = time.monotonic() + self.max_wait
                while size < self.max_batch and (remaining := deadline - time.monotonic()) > 0:
                    self._arrived.wait(remaining)
                    size = self._take(batch, size)
            self._company = len(batch) > 1
            return batch

    def _execute(self, batch: list[_Job]) -> None:
        texts = [text for job in batch for text in job.texts]
        first = batch[0]
        size = first.batch_size if len(batch) == 1 else self.max_batch

        def sent() -> None:
            for job in batch:
                job.sent()

        try:
            vectors = encode_overlapped(self.encoder, texts, sent, batch_size=size, progress=first.progress)
        except BaseException as exc:  # every waiting caller gets the error, not a hang
            for job in batch:
                job.error = exc
                job.wake.set()
            return
        self.batch_sizes[len(texts)] += 1
        start = 0
        for job in batch:
            job.vectors = vectors[start : start + len(job.texts)]
            start += len(job.texts)
            job.wake.set()


def encode_overlapped(encoder: Encoder, texts: list[str], meanwhile: Callable[[], None], **options) -> np.ndarray:
    """Encode ``texts`` and call ``meanwhile`` (which starts other work, e.g.
    on a thread pool) while the model runs. Started before the encode, that
    work's thread would take the interpreter lock just as this one needs it
    to send the texts to the encoder process, delaying the encode itself
    (~1 ms at the median, ~3.5 ms at the 90th percentile, measured at 100k
    records); started once they are sent, it costs the encode nothing.
    ``options`` (batch_size, progress) go to ``encode``."""
    if getattr(encoder, "overlaps", False):
        return encoder.encode(texts, on_sent=meanwhile, **options)
    meanwhile()
    return encoder.encode(texts, **options)
