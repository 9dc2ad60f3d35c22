"""The micro-batching encoder: concurrent callers share batches, get their own
vectors back, and a lone caller is never held back. No timing assertions:
batches are made to form deterministically by holding the encoder."""

import threading

import numpy as np
import pytest

from embeddings.batching import BatchingEncoder
from embeddings.encoder import HashingEncoder

QUESTIONS = [f"question number {i} about the Berlin crisis" for i in range(40)]


class GatedEncoder(HashingEncoder):
    """Blocks each call until the test opens the gate; records every call."""

    def __init__(self):
        super().__init__()
        self.calls: list[list[str]] = []
        self.entered = threading.Event()
        self.gate = threading.Event()

    def encode(self, texts, **kwargs):
        self.calls.append(list(texts))
        self.entered.set()
        assert self.gate.wait(timeout=20), "the test never opened the gate"
        return super().encode(texts, **kwargs)


def ask_all(encoder, texts):
    results = {}

    def one(text):
        results[text] = encoder.encode([text])

    threads = [threading.Thread(target=one, args=(t,)) for t in texts]
    for t in threads:
        t.start()
    return threads, results


def test_keeps_the_encoder_interface():
    batching = BatchingEncoder(HashingEncoder())
    try:
        assert (batching.name, batching.dimension) == ("hashing", 256)
        assert batching.encode([]).shape == (0, 256)
        assert np.allclose(batching.encode(QUESTIONS[:3]), HashingEncoder().encode(QUESTIONS[:3]))
    finally:
        batching.close()


def held_then_released(max_batch, queued):
    """One question occupies the encoder while ``queued`` more arrive; then
    the encoder is released. Returns the encoder's calls and the batching
    encoder's results and batch sizes."""
    inner = GatedEncoder()
    batching = BatchingEncoder(inner, max_batch=max_batch, max_wait=0.001)
    try:
        first, results = ask_all(batching, QUESTIONS[:1])
        assert inner.entered.wait(timeout=20)
        rest, more = ask_all(batching, QUESTIONS[1 : queued + 1])
        while len(batching._pending) < queued:
            threading.Event().wait(0.001)
        inner.gate.set()
        for t in first + rest:
            t.join(timeout=20)
        results.update(more)
    finally:
        inner.gate.set()
        batching.close()
    return inner.calls, results, batching.batch_sizes


def test_requests_arriving_during_a_batch_are_encoded_together():
    calls, results, sizes = held_then_released(max_batch=16, queued=12)
    assert [len(call) for call in calls] == [1, 12] and sizes == {1: 1, 12: 1}
    expected = HashingEncoder()
    for text, vector in results.items():
        assert np.allclose(vector, expected.encode([text])), "each caller gets the vector of its own text"


def test_batches_are_capped_at_max_batch():
    calls, results, _ = held_then_released(max_batch=5, queued=12)
    assert [len(call) for call in calls] == [1, 5, 5, 2] and len(results) == 13


def test_a_lone_request_does_not_wait_for_company():
    # With an hour's allowed wait, a lone request must still come back at once:
    # a leader only lingers after a batch that had company.
    batching = BatchingEncoder(HashingEncoder(), max_batch=32, max_wait=3600)
    done = threading.Event()
    threading.Thread(target=lambda: (batching.encode(["alone"]), done.set()), daemon=True).start()
    try:
        assert done.wait(timeout=30)
    finally:
        batching.close()


def test_large_jobs_run_alone_with_their_own_batch_size():
    seen = []

    class Recording(HashingEncoder):
        def encode(self, texts, **kwargs):
            seen.append((len(texts), kwargs["batch_size"], kwargs["progress"]))
            return super().encode(texts, **kwargs)

    batching = BatchingEncoder(Recording(), max_batch=8)
    try:
        vectors = batching.encode(QUESTIONS, batch_size=64, progress=True)
    finally:
        batching.close()
    assert vectors.shape == (40, 256) and seen == [(40, 64, True)]


def test_an_encoder_error_reaches_every_caller_of_the_batch():
    class Broken(HashingEncoder):
        def encode(self, texts, **kwargs):
            raise ValueError("model failed")

    batching = BatchingEncoder(Broken())
    try:
        with pytest.raises(ValueError, match="model failed"):
            batching.encode(["x"])
        with pytest.raises(ValueError, match="model failed"):
            batching.encode(["y"])  # the thread survived the first error
    finally:
        batching.close()


def test_closed_encoder_refuses_work():
    batching = BatchingEncoder(HashingEncoder())
    batching.close()
    with pytest.raises(RuntimeError, match="closed"):
        batching.encode(["x"])


def test_the_service_shares_one_batching_encoder(tiny_index):
    from service.app import open_docent

    docent = open_docent(tiny_index)
    try:
        assert isinstance(docent.encoder, BatchingEncoder)
        assert docent.retriever.encoder is docent.encoder
    finally:
        docent.close()
        docent.encoder.close()


def test_batching_settings_come_from_the_environment(tiny_index, monkeypatch):
    from service.app import open_docent
    from service.settings import Settings

    settings = Settings.load(env={"DOCENT_ENCODE_BATCH_MAX": "4", "DOCENT_ENCODE_BATCH_WAIT_MS": "1.5"}, data_dir=tiny_index.data_dir, model="hashing")
    docent = open_docent(settings)
    try:
        assert (docent.encoder.max_batch, docent.encoder.max_wait) == (4, 0.0015)
    finally:
        docent.close()
        docent.encoder.close()


def test_a_lone_caller_encodes_in_its_own_thread():
    threads = []

    class Recording(HashingEncoder):
        def encode(self, texts, **kwargs):
            threads.append(threading.get_ident())
            return super().encode(texts, **kwargs)

    batching = BatchingEncoder(Recording())
    batching.encode(["one"])
    batching.encode(["two"])
    assert threads == [threading.get_ident()] * 2, "no hand-off to another thread"


def test_many_concurrent_callers_all_get_their_own_vectors():
    batching = BatchingEncoder(HashingEncoder(), max_batch=8, max_wait=0.0005)
    expected = HashingEncoder()
    wrong, errors = [], []

    def client(c):
        try:
            for i in range(25):
                text = QUESTIONS[(c * 7 + i) % len(QUESTIONS)] + f" {c}"
                if not np.allclose(batching.encode([text]), expected.encode([text])):
                    wrong.append(text)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    workers = [threading.Thread(target=client, args=(c,)) for c in range(24)]
    for t in workers:
        t.start()
    for t in workers:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in workers), "a caller never got its answer"
    assert not wrong and not errors
    assert sum(size * n for size, n in batching.batch_sizes.items()) == 24 * 25


def test_the_encoder_process_gives_the_same_vectors_and_survives_a_crash():
    from embeddings.subprocess_encoder import ProcessEncoder

    encoder = ProcessEncoder("hashing")
    try:
        assert (encoder.name, encoder.dimension) == ("hashing", 256)
        assert np.allclose(encoder.encode(QUESTIONS[:3]), HashingEncoder().encode(QUESTIONS[:3]))
        encoder._process.kill()  # the child dies (out of memory, a bug in a native library …)
        encoder._process.wait()
        assert np.allclose(encoder.encode(["after the crash"]), HashingEncoder().encode(["after the crash"])), "restarted"
    finally:
        encoder.close()


def test_an_encoder_process_that_cannot_load_its_model_says_why():
    from corpus.errors import ConfigError
    from embeddings.subprocess_encoder import ProcessEncoder

    with pytest.raises(ConfigError, match="neither"):
        ProcessEncoder("/no/such/model")


def test_an_encoder_process_started_without_waiting_is_ready_on_first_use():
    from corpus.errors import ConfigError
    from embeddings.batching import BatchingEncoder
    from embeddings.subprocess_encoder import ProcessEncoder

    # As `docent serve` starts it: the model loads while the caller goes on.
    encoder = BatchingEncoder(ProcessEncoder("hashing", wait=False))
    try:
        assert encoder.encoder._identity is None, "returned before the child answered"
        assert np.allclose(encoder.encode(QUESTIONS[:2]), HashingEncoder().encode(QUESTIONS[:2]))
        assert (encoder.name, encoder.dimension) == ("hashing", 256)
    finally:
        encoder.close()
    broken = ProcessEncoder("/no/such/model", wait=False)
    with pytest.raises(ConfigError, match="neither"):
        broken.dimension


def test_the_service_encoder_runs_torch_models_in_a_child_process(monkeypatch):
    import embeddings.batching as batching_module

    started = []
    monkeypatch.setattr(batching_module, "ProcessEncoder", lambda *args, wait: started.append((*args, wait)) or HashingEncoder())
    encoder = batching_module.serving_encoder("all-MiniLM-L6-v2", threads=1, max_batch=4)
    assert started == [("all-MiniLM-L6-v2", "cpu", 1, True)] and encoder.max_batch == 4
    assert isinstance(batching_module.serving_encoder("hashing").encoder, HashingEncoder) and len(started) == 1


def test_on_sent_runs_once_per_caller_as_its_text_goes_to_the_model():
    # The leader's callback runs just before the model (in process); those of
    # callers queued behind a running batch run while they wait, before the
    # model has their text. Each exactly once.
    inner = GatedEncoder()
    batching = BatchingEncoder(inner, max_batch=16, max_wait=0.001)
    events, results = [], {}

    def ask(text):
        results[text] = batching.encode([text], on_sent=lambda: events.append((text, len(inner.calls))))

    try:
        leader = threading.Thread(target=ask, args=(QUESTIONS[0],))
        leader.start()
        assert inner.entered.wait(timeout=20)
        followers = [threading.Thread(target=ask, args=(t,)) for t in QUESTIONS[1:4]]
        for t in followers:
            t.start()
        while len(batching._pending) < 3:
            threading.Event().wait(0.001)
        assert sorted(events) == sorted([(QUESTIONS[0], 0)] + [(t, 1) for t in QUESTIONS[1:4]]), "followers' callbacks ran while they waited"
        inner.gate.set()
        for t in [leader, *followers]:
            t.join(timeout=20)
    finally:
        inner.gate.set()
        batching.close()
    assert len(events) == 4 and len(results) == 4 and [len(c) for c in inner.calls] == [1, 3]


def test_an_on_sent_error_is_raised_to_its_own_caller_only():
    inner = GatedEncoder()
    batching = BatchingEncoder(inner, max_batch=16, max_wait=0.001)
    outcomes = {}

    def ask(text, callback):
        try:
            outcomes[text] = batching.encode([text], on_sent=callback)
        except RuntimeError as exc:
            outcomes[text] = exc

    def broken():
        raise RuntimeError("the caller's own work could not start")

    try:
        threads = [threading.Thread(target=ask, args=(QUESTIONS[0], None))]
        threads[0].start()
        assert inner.entered.wait(timeout=20)
        threads += [threading.Thread(target=ask, args=(QUESTIONS[1], broken)), threading.Thread(target=ask, args=(QUESTIONS[2], lambda: None))]
        for t in threads[1:]:
            t.start()
        while len(batching._pending) < 2:
            threading.Event().wait(0.001)
        inner.gate.set()
        for t in threads:
            t.join(timeout=20)
    finally:
        inner.gate.set()
        batching.close()
    assert isinstance(outcomes[QUESTIONS[1]], RuntimeError)
    for text in (QUESTIONS[0], QUESTIONS[2]):
        assert np.allclose(outcomes[text], HashingEncoder().encode([text])), "the rest of the batch is unaffected"


def test_the_encoder_process_calls_on_sent_once_and_keeps_in_step_when_it_raises():
    from embeddings.subprocess_encoder import ProcessEncoder

    encoder = ProcessEncoder("hashing")
    calls = []
    try:
        vectors = encoder.encode(QUESTIONS[:2], on_sent=lambda: calls.append("sent"))
        assert calls == ["sent"] and np.allclose(vectors, HashingEncoder().encode(QUESTIONS[:2]))

        def broken():
            raise RuntimeError("boom")

        with pytest.raises(RuntimeError, match="boom"):
            encoder.encode(["first"], on_sent=broken)
        # The reply to "first" was read despite the error: the next call gets its own vector.
        assert np.allclose(encoder.encode(["second"]), HashingEncoder().encode(["second"]))
        # In front of it, the batching encoder hands each caller's callback to the process.
        batching, calls = BatchingEncoder(encoder), []
        encoder.encode = lambda texts, **kwargs: calls.append(sorted(kwargs)) or ProcessEncoder.encode(encoder, texts, **kwargs)
        assert np.allclose(batching.encode(["third"], on_sent=lambda: calls.append("sent")), HashingEncoder().encode(["third"]))
        assert calls == [["batch_size", "on_sent", "progress"], "sent"]
    finally:
        encoder.close()


def test_encode_overlapped_starts_the_other_work_with_any_encoder():
    from embeddings.batching import encode_overlapped

    from bench.measure import TimedEncoder

    timed = TimedEncoder(BatchingEncoder(HashingEncoder()))
    assert timed.overlaps, "the benchmark's timing wrapper measures the service's own overlap"
    for encoder in (HashingEncoder(), BatchingEncoder(HashingEncoder()), timed):
        started = []
        vectors = encode_overlapped(encoder, QUESTIONS[:1], lambda: started.append(True))
        assert started == [True] and np.allclose(vectors, HashingEncoder().encode(QUESTIONS[:1]))
