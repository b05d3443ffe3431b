"""The micro-batcher with a fake model: exactly `size` per call, timeout flush, errors."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import numpy as np
import pytest

from embedder.batcher import BatcherClosed, MicroBatcher


class FakeModel:
    """Records every call; the vector of a text is [len(text), call number]."""

    def __init__(self, delay: float = 0.0, fail_times: int = 0) -> None:
        self.calls: list[list[str]] = []
        self.delay = delay
        self.fail_times = fail_times
        self.lock = threading.Lock()

    def __call__(self, texts: list[str]) -> np.ndarray:
        with self.lock:
            self.calls.append(list(texts))
            n = len(self.calls)
            if self.fail_times > 0:
                self.fail_times -= 1
                raise ConnectionError("model down")
        time.sleep(self.delay)
        return np.array([[len(t), n] for t in texts], dtype=np.float32)


@pytest.fixture
def model() -> FakeModel:
    return FakeModel()


@pytest.fixture
def batcher(model: FakeModel) -> Iterator[MicroBatcher]:
    b = MicroBatcher(model, size=32, timeout_s=0.05)
    yield b
    b.close()


def test_full_batches_are_exactly_32(batcher: MicroBatcher, model: FakeModel) -> None:
    texts = [f"t{i}" * (i % 5 + 1) for i in range(100)]
    vecs = batcher.embed(texts)
    assert [len(c) for c in model.calls] == [32, 32, 32, 4]
    assert [t for call in model.calls for t in call] == texts  # arrival order kept
    assert vecs[:, 0].tolist() == [float(len(t)) for t in texts]  # results in order
    assert batcher.calls == {32: 3, 4: 1}


def test_small_batch_waits_for_timeout_then_flushes(batcher: MicroBatcher,
                                                     model: FakeModel) -> None:
    started = time.monotonic()
    vecs = batcher.embed(["a", "b", "c"])
    waited = time.monotonic() - started
    assert [len(c) for c in model.calls] == [3]
    assert 0.045 <= waited < 1.0
    assert vecs.shape == (3, 2)


def test_late_arrivals_fill_the_batch_before_the_timeout(model: FakeModel) -> None:
    b = MicroBatcher(model, size=32, timeout_s=0.5)
    try:
        first = b.submit([f"a{i}" for i in range(20)])
        time.sleep(0.05)
        second = b.submit([f"b{i}" for i in range(20)])
        started = time.monotonic()
        for f in first:
            f.result(5)
        assert time.monotonic() - started < 0.4  # did not wait for the 0.5 s timeout
        for f in second:
            f.result(5)
        assert [len(c) for c in model.calls] == [32, 8]
    finally:
        b.close()


def test_concurrent_submitters_share_full_batches() -> None:
    model = FakeModel(delay=0.01)
    b = MicroBatcher(model, size=32, timeout_s=0.2)
    results: dict[int, np.ndarray] = {}

    def worker(k: int) -> None:
        results[k] = b.embed([f"{k}-{i}" for i in range(16)])

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    b.close()
    assert sorted(len(c) for c in model.calls) == [32, 32, 32, 32]
    assert all(r.shape == (16, 2) for r in results.values())


def test_model_error_fails_only_that_call_then_recovers() -> None:
    model = FakeModel(fail_times=1)
    b = MicroBatcher(model, size=4, timeout_s=0.01)
    try:
        with pytest.raises(ConnectionError):
            b.embed(["a", "b", "c", "d", "e"])
        vecs = b.embed(["a", "b", "c", "d", "e"])  # a retry succeeds
        assert vecs.shape == (5, 2)
        # the failed call is not counted; "e" of the first try went out on its own
        assert max(b.calls) <= 4
        assert sum(size * n for size, n in b.calls.items()) == 1 + 5
    finally:
        b.close()


def test_submit_after_close_raises(model: FakeModel) -> None:
    b = MicroBatcher(model, size=2, timeout_s=0.01)
    b.close()
    with pytest.raises(BatcherClosed):
        b.submit(["x"])
