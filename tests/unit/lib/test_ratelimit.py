"""Rate limits: the per-process token bucket refills at its rate, caps at
burst, grants a batch in part and reports retry hints; the shared limiter (the
`limits` library; memory:// storage here, Redis in the integration tests) does
the same over its window and lets requests through when its storage does not
answer; open_limiter picks one by storage URL."""

from __future__ import annotations

import threading

from mlmesh.ratelimit import KeyedLimiter, SharedLimiter, open_limiter


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_bucket_allows_burst_then_refills_at_rate() -> None:
    clock = Clock()
    lim = KeyedLimiter(rate=10, burst=5, clock=clock)
    assert all(lim.take("k").allowed for _ in range(5))
    denied = lim.take("k")
    assert not denied.allowed and abs(denied.retry_after_s - 0.1) < 1e-9
    clock.t += 0.1
    assert lim.take("k").allowed
    assert not lim.take("k").allowed
    assert lim.take("other").allowed  # keys are independent
    clock.t = 100
    assert sum(lim.take("k").allowed for _ in range(10)) == 5  # capped at burst


def test_bucket_grants_a_batch_in_part() -> None:
    clock = Clock()
    lim = KeyedLimiter(rate=10, burst=30, clock=clock)
    assert lim.grant("u", 25) == (25, 0.0)
    granted, retry_after = lim.grant("u", 10)
    assert granted == 5 and abs(retry_after - 0.5) < 1e-9
    assert lim.grant("u", 1)[0] == 0


def test_disabled_and_lru_bounded() -> None:
    assert all(KeyedLimiter(rate=0, burst=1).take("k").allowed for _ in range(1000))
    lim = KeyedLimiter(rate=1, burst=1, max_keys=3)
    for k in "abcd":
        lim.take(k)
    assert len(lim._buckets) == 3 and "a" not in lim._buckets


def test_concurrent_takes_never_exceed_burst() -> None:
    lim = KeyedLimiter(rate=0.001, burst=50)
    allowed: list[bool] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(100):
            ok = lim.take("shared").allowed
            with lock:
                allowed.append(ok)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(allowed) == 50


def test_shared_limiter_window_burst_and_partial_grants() -> None:
    lim = SharedLimiter(rate=10, burst=30, storage_uri="memory://")  # 30 per 3 s
    assert (lim.item.amount, lim.item.multiples) == (30, 3)
    assert lim.grant("u", 25) == (25, 0.0)
    granted, retry_after = lim.grant("u", 10)
    assert granted == 5 and 0 < retry_after <= 3.0
    denied = lim.take("u")
    assert not denied.allowed and denied.retry_after_s > 0
    assert lim.take("v").allowed and not SharedLimiter(0, 1, "memory://").enabled


def test_a_shared_store_that_does_not_answer_allows() -> None:
    lim = open_limiter(1, 1, "redis://127.0.0.1:1/0")
    assert isinstance(lim, SharedLimiter)
    assert all(lim.take("k").allowed for _ in range(3))
    assert isinstance(open_limiter(1, 1), KeyedLimiter)
