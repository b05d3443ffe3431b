from __future__ import annotations

import numpy as np

from inference.caches import ExactCache, SemanticCache


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_exact_cache_ttl_lru_and_hit_rate() -> None:
    clock = Clock()
    seen: list[bool] = []
    cache: ExactCache[str] = ExactCache(2, ttl_s=5, clock=clock, on_lookup=seen.append)
    cache.put(("u1", "v1"), "a")
    assert cache.get(("u1", "v1")) == "a"
    assert cache.get(("u1", "v2")) is None  # another model version: a miss
    cache.put("b", "b")
    cache.get(("u1", "v1"))  # refresh -> "b" is now least recent
    cache.put("c", "c")
    assert cache.get("b") is None and cache.get("c") == "c"
    clock.t += 6
    assert cache.get("c") is None  # expired
    assert seen == [True, False, True, False, True, False]
    assert abs(cache.stats.hit_rate - 0.5) < 1e-9


def test_disabled_cache_never_hits() -> None:
    cache: ExactCache[str] = ExactCache(0, ttl_s=5)
    cache.put("k", "v")
    assert cache.get("k") is None


def test_semantic_cache_threshold_and_scope() -> None:
    clock = Clock()
    cache: SemanticCache[str] = SemanticCache(100, ttl_s=10, threshold=0.95, clock=clock)
    rng = np.random.default_rng(0)
    v = rng.normal(size=384).astype(np.float32)
    near = v + 0.05 * rng.normal(size=384).astype(np.float32)
    far = rng.normal(size=384).astype(np.float32)
    cache.put(("alice", 5), v, "alice-result")
    hit = cache.get(("alice", 5), near)
    assert hit is not None and hit[0] == "alice-result" and hit[1] >= 0.95
    assert cache.get(("alice", 5), far) is None
    assert cache.get(("bob", 5), v) is None  # never crosses users
    assert cache.get(("alice", 10), v) is None  # nor k / filters
    clock.t += 11
    assert cache.get(("alice", 5), v) is None
    assert cache.stats.hits == 1 and cache.stats.misses == 4


def test_semantic_cache_is_bounded() -> None:
    cache: SemanticCache[int] = SemanticCache(10, ttl_s=10, threshold=0.99, per_scope=4)
    rng = np.random.default_rng(1)
    for i in range(50):
        cache.put(f"user{i % 7}", rng.normal(size=8), i)
    assert len(cache) <= 10
