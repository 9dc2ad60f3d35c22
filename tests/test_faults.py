"""Faults done for real: SIGKILL during ingest, and re-indexing under load."""

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time

import httpx
import pytest

from embeddings.collection import Collection, current_generation
from embeddings.encoder import HashingEncoder
from service.engine import Docent
from service.schemas import SearchRequest
from service.settings import Settings
from tests.conftest import ROOT, TINY
from tests.server import running_server

ENV = {"DOCENT_MODEL": "hashing", "DOCENT_MIN_SCORE": "0.15", "DOCENT_MIN_SUPPORT": "1.5", "DOCENT_RATE_LIMIT_PER_MINUTE": "0"}
QUESTIONS = ["Kennan telegram on Soviet conduct", "Stalin letter to Pishevari about Iran", "Filippov telegram to Mao on Korea"]


def docent_cli(*args, data_dir, wait=True):
    env = {**os.environ, **ENV, "DOCENT_DATA_DIR": str(data_dir)}
    command = [sys.executable, "-m", "service.cli", *args]
    if wait:
        return subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    return subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def answers(data_dir):
    settings = Settings.load(env={}, data_dir=data_dir, model="hashing", sample_when_empty=False)
    docent = Docent.open(settings, HashingEncoder())
    try:
        return [[r.id for r in docent.search(SearchRequest(question=q, k=5)).results] for q in QUESTIONS]
    finally:
        docent.close()


def synthetic(path, count, seed=7):
    words = "treaty embassy telegram delegation ministry border army party congress plenum reactor missile grain oil".split()
    rng = random.Random(seed)
    with path.open("w") as handle:
        for i in range(count):
            text = " ".join(rng.choice(words) for _ in range(30))
            handle.write(json.dumps({"id": f"syn-{i}", "title": f"Synthetic record {i}", "date": f"{1945 + i % 40}", "summary": text}) + "\n")


def test_sigkill_during_ingest_leaves_the_previous_index_answering_identically(tmp_path):
    data_dir = tmp_path / "data"
    assert docent_cli("ingest", str(TINY), "--quiet", data_dir=data_dir).returncode == 0
    before_generation, before = current_generation(data_dir), answers(data_dir)
    big = tmp_path / "big.jsonl"
    synthetic(big, 40_000)
    kills = 0
    for delay in (0.5, 1.0, 2.0, 3.0, 4.5):
        process = docent_cli("ingest", str(big), "--quiet", data_dir=data_dir, wait=False)
        time.sleep(delay)
        if process.poll() is not None:
            pytest.fail(f"the ingest finished within {delay} s; make the input larger so the kill lands mid-write")
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        kills += 1
        assert current_generation(data_dir) == before_generation
        Collection.open(data_dir, model="hashing", verify=True).close()  # loads, every file's checksum intact
        assert answers(data_dir) == before
    assert kills == 5
    # The lock died with the killed process; the next ingest runs and cleans up after the crashes.
    done = docent_cli("ingest", str(TINY), "--quiet", data_dir=data_dir)
    assert done.returncode == 0, done.stderr
    assert not [p for p in data_dir.iterdir() if p.name.startswith(".tmp")]


def test_reindex_under_load_loses_no_request(tmp_path):
    data_dir = tmp_path / "data"
    assert docent_cli("ingest", str(TINY), "--quiet", data_dir=data_dir).returncode == 0
    extra = tmp_path / "extra.jsonl"
    extra.write_text("".join(json.dumps({"id": f"x{i}", "title": f"Extra telegram {i}", "date": "1950", "summary": "Kennan telegram on Soviet conduct, again."}) + "\n" for i in range(5)))
    env = {**ENV, "DOCENT_ADMIN_API_KEY": "k-123", "DOCENT_RELOAD_INTERVAL": "0.2"}
    results: list[tuple[int, int | None]] = []
    stop = threading.Event()
    with running_server(data_dir, env=env) as base:

        def load():
            with httpx.Client(base_url=base, timeout=30) as client:
                while not stop.is_set():
                    r = client.post("/ask", json={"question": QUESTIONS[0]})
                    results.append((r.status_code, r.json().get("searched", {}).get("records") if r.status_code == 200 else None))

        workers = [threading.Thread(target=load) for _ in range(4)]
        for w in workers:
            w.start()
        try:
            time.sleep(0.5)
            assert docent_cli("ingest", str(extra), "--quiet", data_dir=data_dir).returncode == 0  # the operator command
            wait_for_count(base, 13)
            admin = {"Authorization": "Bearer k-123"}
            swapped = httpx.post(f"{base}/admin/reindex", json={"files": [str(TINY)], "replace": True}, headers=admin, timeout=60)
            assert swapped.status_code == 201 and swapped.json()["total"] == 8
            wait_for_count(base, 8)
            removed = httpx.delete(f"{base}/admin/records/t-sputnik", headers=admin, timeout=60)
            assert removed.status_code == 200 and removed.json()["removed"] == 1
            wait_for_count(base, 7)
            time.sleep(0.3)
        finally:
            stop.set()
            for w in workers:
                w.join()
    statuses = {s for s, _ in results}
    counts = [c for _, c in results]
    assert statuses == {200}, f"failed requests: {[s for s, _ in results if s != 200]}"
    assert set(counts) <= {8, 13, 7} and {8, 13, 7} <= set(counts), "every answer came from the old or the new index"
    assert len(results) > 20


def wait_for_count(base, count, timeout=20.0):
    deadline = time.monotonic() + timeout
    while httpx.get(f"{base}/health").json()["records"] != count:
        assert time.monotonic() < deadline, f"the service never switched to the index with {count} records"
        time.sleep(0.05)
