from __future__ import annotations

import threading

from mlmesh.ratelimit import KeyedLimiter


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


def test_disabled_limiter_allows_everything() -> None:
    lim = KeyedLimiter(rate=0, burst=1)
    assert all(lim.take("k").allowed for _ in range(1000))


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
