"""Run `docent serve` as a subprocess on a free loopback port (for e2e and browser tests)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager

import httpx

from tests.conftest import ROOT


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server(str):
    """The base URL, carrying the server's process id (for memory readings)."""

    pid: int


@contextmanager
def running_server(data_dir, env: dict[str, str] | None = None, timeout: float = 180.0):
    port = free_port()
    full_env = {**os.environ, "DOCENT_DATA_DIR": str(data_dir), **(env or {})}
    # The log goes to a file: a pipe nobody reads fills up under load and stalls the server.
    log = tempfile.TemporaryFile(mode="w+")
    process = subprocess.Popen(
        [sys.executable, "-m", "service.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT, env=full_env, stdout=log, stderr=subprocess.STDOUT, text=True,
    )
    base = Server(f"http://127.0.0.1:{port}")
    base.pid = process.pid
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                log.seek(0)
                raise RuntimeError(f"server exited with {process.returncode}:\n{log.read()}")
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("server did not become healthy in time")
            time.sleep(0.25)
        try:
            yield base
        except BaseException:
            # The server's side of a failure (an exception it logged, or its
            # exit) is what explains a client-side error: show it in the report.
            log.seek(0)
            print(f"server log (exit code {process.poll()}):\n{log.read()[-20000:]}", file=sys.stderr)
            raise
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
