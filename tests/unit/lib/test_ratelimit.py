"""Token buckets refill at their rate, cap at burst, and report retry hints."""

from __future__ import annotations

from mlmesh.ratelimit import KeyedLimiter


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_bucket_allows_burst_then_refills():
    clock = Clock()
    lim = KeyedLimiter(rate=10, burst=5, clock=clock)
    assert all(lim.take("a").allowed for _ in range(5))
    d = lim.take("a")
    assert not d.allowed and abs(d.retry_after_s - 0.1) < 1e-9
    assert lim.take("b").allowed  # keys are independent
    clock.t = 0.25  # 2.5 tokens back
    assert lim.take("a").allowed and lim.take("a").allowed
    assert not lim.take("a").allowed
    clock.t = 100
    assert sum(lim.take("a").allowed for _ in range(10)) == 5  # capped at burst


def test_zero_rate_disables_and_lru_bounds_memory():
    assert KeyedLimiter(0, 1).take("x").allowed
    lim = KeyedLimiter(rate=1, burst=1, max_keys=3)
    for k in "abcd":
        lim.take(k)
    assert len(lim._buckets) == 3 and "a" not in lim._buckets
