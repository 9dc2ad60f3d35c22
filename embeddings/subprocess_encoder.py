"""The encoder in a child process, for serving.

A web server answering 16 clients at once runs their requests' Python code
(parsing, search, composing answers) on threads that share CPython's global
interpreter lock with the encoder. The model's forward pass is ~100 torch
calls, each of which must take the lock back when it returns, so under load
the encoder spends most of its time waiting for request threads: measured on
this 2-core machine, batches of 8 questions took ~125 ms instead of ~55 ms
and 16 clients got only 1.3× the answers of one. In a child process the
model has a core and an interpreter to itself; the parent only waits on a
pipe, which does not hold the lock. A round trip costs ~0.2 ms.

The child is a plain ``python -m embeddings.subprocess_encoder`` speaking
pickles over its stdin and stdout (unlike multiprocessing, it never
re-imports the parent's main script); it is restarted if it dies, and exits
when its stdin closes, so it never outlives the service.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import threading
from collections.abc import Callable

import numpy as np

from corpus.errors import DocentError


class EncoderProcessError(DocentError):
    """The encoder process failed to start or died."""


def _portable(exc: Exception) -> Exception:
    """The exception itself if it survives pickling, else its text."""
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:  # noqa: BLE001 - any pickling failure
        return EncoderProcessError(f"{type(exc).__name__}: {exc}")


def main(model: str, device: str, threads: int) -> None:
    """The child: answer (texts, batch_size, progress) with vectors until stdin closes."""
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # whatever a library prints must not corrupt the replies
    sys.stdout = sys.stderr
    requests = sys.stdin.buffer
    from embeddings.encoder import load_encoder

    def reply(message) -> None:
        pickle.dump(message, replies, protocol=pickle.HIGHEST_PROTOCOL)
        replies.flush()

    try:
        encoder = load_encoder(model, device, threads)
    except Exception as exc:  # noqa: BLE001 - sent to the parent, which raises it
        reply(("error", _portable(exc)))
        return
    reply(("ready", (encoder.name, encoder.dimension)))
    while True:
        try:
            texts, batch_size, progress = pickle.load(requests)
        except EOFError:
            return
        try:
            reply(("ok", encoder.encode(texts, batch_size=batch_size, progress=progress)))
        except Exception as exc:  # noqa: BLE001 - sent to the parent, which raises it
            reply(("error", _portable(exc)))


class ProcessEncoder:
    """An ``Encoder`` whose model runs in a child process; one call at a time
    (put a ``BatchingEncoder`` in front to share it among threads)."""

    # ``encode`` takes ``on_sent`` (embeddings.batching.encode_overlapped).
    overlaps = True

    def __init__(self, model: str, device: str = "cpu", threads: int = 0, *, wait: bool = True) -> None:
        """Start the child. ``wait=False`` returns at once and lets the model
        load while the caller does other work (``docent serve`` imports the
        web stack meanwhile); the first use of ``name``, ``dimension`` or
        ``encode`` then waits for it to be ready."""
        self._args = [model, device, str(threads)]
        self._lock = threading.Lock()
        self._process: subprocess.Popen | None = None
        self._identity: tuple[str, int] | None = None
        with self._lock:
            self._spawn()
            if wait:
                self._handshake()

    @property
    def pid(self) -> int | None:
        """The encoder process's id (None before it is started)."""
        return self._process.pid if self._process is not None else None

    @property
    def name(self) -> str:
        return self._ready()[0]

    @property
    def dimension(self) -> int:
        return self._ready()[1]

    def _ready(self) -> tuple[str, int]:
        with self._lock:
            if self._identity is None:
                self._handshake()
            return self._identity

    def _spawn(self) -> None:
        self._stop()
        self._identity = None
        self._process = subprocess.Popen(
            [sys.executable, "-m", "embeddings.subprocess_encoder", *self._args], stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )

    def _handshake(self) -> None:
        status, payload = self._receive()
        if status == "error":
            self._stop()
            raise payload
        self._identity = payload

    def _start(self) -> None:
        self._spawn()
        self._handshake()

    def _receive(self):
        try:
            return pickle.load(self._process.stdout)
        except (EOFError, OSError, pickle.UnpicklingError):
            code = self._process.poll()
            raise EncoderProcessError(f"the encoder process exited unexpectedly (exit code {code})") from None

    def encode(self, texts: list[str], *, batch_size: int = 64, progress: bool = False, on_sent: Callable[[], None] | None = None) -> np.ndarray:
        """``on_sent``, if given, is called once the texts are written to the
        child, while it encodes: the caller's other work then overlaps the
        model without delaying the request."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        request = (list(texts), batch_size, progress)
        with self._lock:
            if self._process is None or self._process.poll() is not None:
                self._start()
            elif self._identity is None:
                self._handshake()
            try:
                pickle.dump(request, self._process.stdin, protocol=pickle.HIGHEST_PROTOCOL)
                self._process.stdin.flush()
            except (BrokenPipeError, OSError):
                self._start()
                pickle.dump(request, self._process.stdin, protocol=pickle.HIGHEST_PROTOCOL)
                self._process.stdin.flush()
            try:
                if on_sent is not None:
                    on_sent()
            finally:  # the reply is read whatever happens, or the next call would get it
                status, payload = self._receive()
        if status == "error":
            raise payload
        return payload

    def _stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        for stream in (process.stdin, process.stdout):
            try:
                stream.close()
            except OSError:
                pass
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def close(self) -> None:
        with self._lock:
            self._stop()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
