"""In-process measurements: /ask latency split into phases, concurrent
throughput, recall of the approximate index, ingest throughput."""

from __future__ import annotations

import shutil
import statistics
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from embeddings.collection import Collection
from embeddings.ingest import ingest
from service.schemas import AskRequest


def stats(seconds: list[float]) -> dict:
    """Median and tail percentiles, in milliseconds."""
    if not seconds:
        return {"n": 0}
    ms = np.asarray(seconds) * 1000
    return {
        "n": len(ms),
        "p50": round(float(np.percentile(ms, 50)), 2),
        "p95": round(float(np.percentile(ms, 95)), 2),
        "p99": round(float(np.percentile(ms, 99)), 2),
        "mean": round(float(ms.mean()), 2),
    }


class TimedEncoder:
    """Wraps an encoder and remembers, per thread, how long the last call took."""

    def __init__(self, encoder) -> None:
        self.encoder, self.name, self.dimension = encoder, encoder.name, encoder.dimension
        # Passed through: the service starts its lexical side once the question is sent.
        self.overlaps = getattr(encoder, "overlaps", False)
        self.last = threading.local()

    def encode(self, texts, **kwargs):
        started = time.perf_counter()
        try:
            return self.encoder.encode(texts, **kwargs)
        finally:
            self.last.seconds = time.perf_counter() - started


def instrument(docent) -> TimedEncoder:
    """Time the encoder and the retrieval of ``docent`` (search = retrieval
    minus encoding; compose = the rest of the answer)."""
    timed = TimedEncoder(docent.encoder)
    docent.encoder = docent.retriever.encoder = timed
    retrieve, last = docent.retriever.retrieve, threading.local()

    def timed_retrieve(*args, **kwargs):
        started = time.perf_counter()
        try:
            return retrieve(*args, **kwargs)
        finally:
            last.seconds = time.perf_counter() - started

    docent.retriever.retrieve = timed_retrieve
    timed.retrieve_last = last
    return timed


def ask_latency(docents: dict, plain, questions: list[str], repeats: int) -> dict:
    """One client, sequentially: each question through every docent in
    turn, and through the plain encoder alone (the reference encode time),
    so all figures share the same moments of machine noise. Each measured
    call follows an unmeasured one of the same variant (with the previous
    question), so every variant is measured warm: otherwise a variant whose
    encoder process sat idle while the others ran would pay for cold caches
    that the in-process ones, run back to back, do not. One unmeasured round
    of all the questions comes first, so that the figures are a running
    service's, not partly a cold start's (pages of a large collection not yet
    read, memoised question words and caveats not yet computed): cold start
    is measured on its own."""
    timers = {name: instrument(d) for name, d in docents.items()}
    for question in questions:
        plain.encode([question])
        for d in docents.values():
            d.ask(AskRequest(question=question))
    samples = {name: {"total": [], "encode": [], "search": [], "compose": []} for name in docents}
    reference = []
    for _ in range(repeats):
        for i, question in enumerate(questions):
            previous = questions[i - 1]
            plain.encode([previous])
            started = time.perf_counter()
            plain.encode([question])
            reference.append(time.perf_counter() - started)
            for name, d in docents.items():
                d.ask(AskRequest(question=previous))
                started = time.perf_counter()
                d.ask(AskRequest(question=question))
                total = time.perf_counter() - started
                encode, retrieve = timers[name].last.seconds, timers[name].retrieve_last.seconds
                for key, value in (("total", total), ("encode", encode), ("search", retrieve - encode), ("compose", total - retrieve)):
                    samples[name][key].append(value)
    result = {"question_encode": stats(reference)}
    for name, phases in samples.items():
        result[name] = {phase: stats(values) for phase, values in phases.items()}
    return result


def throughput(call, clients: int, duration: float, questions: list[str]) -> dict:
    """Answers per second with ``clients`` threads calling ``call(question)`` back to back."""
    stop = time.perf_counter() + 0.5 + duration
    window_start = stop - duration
    latencies: list[float] = []
    done = [0]
    lock = threading.Lock()

    def client(offset: int) -> None:
        i = offset
        while True:
            started = time.perf_counter()
            if started >= stop:
                return
            call(questions[i % len(questions)])
            ended = time.perf_counter()
            i += clients
            if started >= window_start and ended <= stop:
                with lock:
                    done[0] += 1
                    latencies.append(ended - started)

    threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"answers_per_s": round(done[0] / duration, 2), "latency": stats(latencies)}


def throughput_table(calls: dict, levels: list[int], duration: float, questions: list[str], repeats: int) -> dict:
    """Median answers/s per variant and client count, the variants interleaved."""
    runs: dict = {name: {c: [] for c in levels} for name in calls}
    for _ in range(repeats):
        for clients in levels:
            for name, call in calls.items():
                runs[name][clients].append(throughput(call, clients, duration, questions))
    table = {}
    for name, by_level in runs.items():
        table[name] = {}
        for clients, results in by_level.items():
            rates = [r["answers_per_s"] for r in results]
            table[name][str(clients)] = {"answers_per_s": statistics.median(rates), "runs": rates, "p50_ms": results[-1]["latency"].get("p50")}
    return table


def recall(collection: Collection, query_vectors: np.ndarray, depth: int = 100) -> dict:
    """Recall@10 of the collection's index against exact search, at k=10 and
    at the depth retrieval asks for (the top 10 of a k=100 search)."""
    vectors = collection.vectors()
    alive = np.ones(collection.rows, dtype=bool)
    alive[collection.dead] = False
    scores = np.full((len(query_vectors), collection.rows), -np.inf, dtype=np.float32)
    for first in range(0, collection.rows, 65536):
        block = np.asarray(vectors[first : first + 65536])
        scores[:, first : first + len(block)] = query_vectors @ block.T
    scores[:, ~alive] = -np.inf
    exact = np.argsort(-scores, axis=1)[:, :10]
    result = {}
    for k in (10, depth):
        found = [{h.pos for h in collection.search(q, k)[:10]} for q in query_vectors]
        result[f"recall@10_k{k}"] = round(float(np.mean([len(f & set(e.tolist())) / 10 for f, e in zip(found, exact)])), 4)
    return result


def ingest_throughput(records, encoder, repeats: int) -> dict:
    """Records/s of a full ingest and of the bare encoder on the same texts,
    alternated, and their ratio per round (same moments, same noise)."""
    texts = [r.embedding_text() for r in records]
    rounds = []
    for _ in range(repeats):
        started = time.perf_counter()
        encoder.encode(texts, batch_size=64)
        raw = time.perf_counter() - started
        scratch = Path(tempfile.mkdtemp(prefix="docent-bench-ingest-"))
        try:
            started = time.perf_counter()
            ingest(scratch / "data", records, encoder)
            full = time.perf_counter() - started
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        rounds.append({"encoder_per_s": round(len(texts) / raw, 1), "ingest_per_s": round(len(texts) / full, 1), "ratio": round(raw / full, 3)})
    return {
        "records": len(texts),
        "rounds": rounds,
        "encoder_per_s": statistics.median(r["encoder_per_s"] for r in rounds),
        "ingest_per_s": statistics.median(r["ingest_per_s"] for r in rounds),
        "ratio": statistics.median(r["ratio"] for r in rounds),
    }
