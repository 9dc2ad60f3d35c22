"""`python -m bench.ceiling DATA_DIR`: what caps throughput on this machine.

Under load every core is busy, so answers per second cannot exceed
cores ÷ (CPU time per answer). This runs `Docent.ask` through the service's
encoder (micro-batching in front of the model in a child process) with 1 and
with 16 client threads, reads the CPU time this process and the encoder
process spent (from /proc), and prints each side's CPU per answer, the
ceiling it implies and the answers per second measured. It also times the
model alone on batches of 1 to 32 questions, since batching is what lowers
the encoder's share.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

from bench.measure import throughput
from bench.run import SHARED
from eval.suite import load_queries
from embeddings.batching import serving_encoder, serving_threads
from embeddings.encoder import DEFAULT_MODEL, load_encoder
from embeddings.subprocess_encoder import ProcessEncoder
from service.engine import Docent
from service.schemas import AskRequest
from service.settings import Settings


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, all its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def under_load(docent: Docent, child: int, clients: int, seconds: float, questions: list[str]) -> dict:
    engine, encoder = cpu_seconds(os.getpid()), cpu_seconds(child)
    result = throughput(lambda q: docent.ask(AskRequest(question=q)), clients, seconds, questions)
    answers = result["answers_per_s"] * seconds
    # The measurement window excludes a warm-up of 0.5 s, the CPU counters do not.
    engine_ms = (cpu_seconds(os.getpid()) - engine) / answers * 1000 * seconds / (seconds + 0.5)
    encoder_ms = (cpu_seconds(child) - encoder) / answers * 1000 * seconds / (seconds + 0.5)
    cores = os.cpu_count() or 1
    return {"clients": clients, "answers_per_s": result["answers_per_s"], "engine_cpu_ms": round(engine_ms, 1),
            "encoder_cpu_ms": round(encoder_ms, 1), "ceiling_per_s": round(cores * 1000 / (engine_ms + encoder_ms), 1)}


def batch_costs(questions: list[str], threads: int) -> dict[int, float]:
    """Milliseconds per question when the model encodes them in batches."""
    model = load_encoder(DEFAULT_MODEL, threads=threads)
    costs = {}
    for size in (1, 4, 8, 16, 32):
        times = []
        for _ in range(4):
            for i in range(0, 64, size):
                started = time.perf_counter()
                model.encode(questions[i : i + size])
                times.append((time.perf_counter() - started) / size)
        costs[size] = round(statistics.median(times) * 1000, 2)
    return costs


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.ceiling", description=__doc__.splitlines()[0])
    p.add_argument("data_dir", type=Path, help="a collection's data directory (e.g. one bench.run built under --work)")
    p.add_argument("--queries", type=Path, default=SHARED / "eval" / "dev" / "queries.jsonl", help="real questions (BEIR queries.jsonl)")
    p.add_argument("--seconds", type=float, default=6.0)
    args = p.parse_args(argv)
    questions = [q.text for q in load_queries(args.queries)]
    settings = Settings.load(env={}, data_dir=args.data_dir, sample_when_empty=False)
    encoder = serving_encoder(**settings.encoder_options())
    docent = Docent.open(settings, encoder)
    try:
        child = encoder.encoder.pid if isinstance(encoder.encoder, ProcessEncoder) else os.getpid()
        for question in questions[:20]:
            docent.ask(AskRequest(question=question))
        for clients in (1, 16):
            print(under_load(docent, child, clients, args.seconds, questions))
    finally:
        docent.close()
        encoder.close()
    print({"ms_per_question_by_batch_size": batch_costs(questions, serving_threads(settings.encoder_threads))})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
