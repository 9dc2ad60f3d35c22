"""Over HTTP: a real `docent serve` on loopback, driven by a lean asyncio
client (raw HTTP/1.1 keep-alive, so the client's own cost stays small on a
machine whose two cores it shares with the server)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from bench.measure import stats

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def server(data_dir: Path, env: dict[str, str] | None = None, timeout: float = 300.0):
    """Start `docent serve`; yield (port, pid, seconds until /health answered)."""
    port = free_port()
    # No rate limit: the benchmark is one client address asking as fast as it can.
    full_env = {**os.environ, "DOCENT_DATA_DIR": str(data_dir), "DOCENT_SAMPLE_WHEN_EMPTY": "false", "DOCENT_RATE_LIMIT_PER_MINUTE": "0", **(env or {})}
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "service.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT, env=full_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    try:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"server exited with {process.returncode}: {process.stderr.read()[-2000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.perf_counter() - started > timeout:
                raise RuntimeError("server did not answer /health in time")
            time.sleep(0.02)
        yield port, process.pid, time.perf_counter() - started
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        for leftover in data_dir.glob("conversations.sqlite*"):  # the bench's questions are not anyone's history
            leftover.unlink()


def rss(pid: int) -> dict:
    """Resident memory in MiB of a process (total, anonymous, file-backed: the
    mapped index pages) and of its children (the encoder process)."""

    def of(p: int) -> dict:
        fields = {}
        for line in Path(f"/proc/{p}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "RssAnon", "RssFile", "VmHWM"):
                fields[key] = round(int(value.split()[0]) / 1024, 1)
        return fields

    # A child belongs to the thread that started it (the encoder process: a worker thread).
    children = [int(c) for task in Path(f"/proc/{pid}/task").iterdir() for c in (task / "children").read_text().split()]
    return {"server": of(pid), "children": [of(c) for c in children]}


async def _connection(port: int, bodies: list[bytes], stop: float, window_start: float, latencies: list[float], sequential: bool) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for body in bodies if sequential else _cycle(bodies):
            started = time.perf_counter()
            if not sequential and started >= stop:
                return
            writer.write(
                b"POST /ask HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                + f"Content-Length: {len(body)}\r\n\r\n".encode() + body
            )
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:"))
            await reader.readexactly(length)
            if status != 200:
                raise RuntimeError(f"POST /ask answered {status}")
            ended = time.perf_counter()
            if sequential or (started >= window_start and ended <= stop):
                latencies.append(ended - started)
    finally:
        writer.close()


def _cycle(items):
    while True:
        yield from items


def _bodies(questions: list[str]) -> list[bytes]:
    return [json.dumps({"question": q}).encode() for q in questions]


def latency(port: int, questions: list[str], repeats: int) -> dict:
    """One client, one question at a time."""
    latencies: list[float] = []
    bodies = _bodies(questions)
    asyncio.run(_connection(port, bodies[:5], 0, 0, [], True))  # warm-up
    asyncio.run(_connection(port, bodies * repeats, 0, 0, latencies, True))
    return stats(latencies)


def throughput(port: int, clients: int, duration: float, questions: list[str]) -> dict:
    """Answers/s with ``clients`` connections each sending questions back to back."""
    bodies = _bodies(questions)
    latencies: list[float] = []

    async def run() -> None:
        stop = time.perf_counter() + 0.5 + duration
        await asyncio.gather(*(_connection(port, bodies[c:] + bodies[:c], stop, stop - duration, latencies, False) for c in range(clients)))

    asyncio.run(run())
    return {"answers_per_s": round(len(latencies) / duration, 2), "latency": stats(latencies)}


COLD_START = """
import json, sys, time
t0 = time.perf_counter()
from pathlib import Path
from embeddings.collection import Collection
t1 = time.perf_counter()
collection = Collection.open(Path(sys.argv[1]))
t2 = time.perf_counter()
import numpy as np
query = np.asarray(collection.vectors()[0], dtype=np.float32)
collection.search(query, 100)
t3 = time.perf_counter()
from embeddings.encoder import load_encoder
load_encoder(collection.manifest["model"])
t4 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "open_index_s": t2 - t1, "first_search_s": t3 - t2, "load_model_s": t4 - t3}))
"""


def cold_start(data_dir: Path) -> dict:
    """A fresh process opening the index (verifying it as the service does),
    its first search, and loading the model."""
    out = subprocess.run([sys.executable, "-c", COLD_START, str(data_dir)], cwd=ROOT, capture_output=True, text=True, check=True)
    return {k: round(v, 3) for k, v in json.loads(out.stdout.strip().splitlines()[-1]).items()}
