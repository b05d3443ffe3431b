"""bench.monitor_soak's verdict: a saw-tooth under the warm-up peak is bounded,
a linear growth is not."""

from __future__ import annotations

from bench.monitor_soak import verdict


def _samples(rss: list[float]) -> list[dict[str, float]]:
    return [{"t_min": i * 2.0, "rss_mb": r, "lag": 0} for i, r in enumerate(rss)]


def test_saw_tooth_after_the_warm_up_is_flat() -> None:
    # fills for 20 minutes, then drops a window's worth every 10 and refills
    rss = [100, 140, 180, 220, 260, 300, 340, 380, 420, 460, 300, 340, 380, 420, 460, 300]
    out = verdict(_samples(rss), rate=100.0, max_growth=1.1, warm_min=20.0)
    assert out["memory_flat"]


def test_linear_growth_is_not_flat() -> None:
    rss = [100 + 40 * i for i in range(16)]
    out = verdict(_samples(rss), rate=100.0, max_growth=1.1, warm_min=20.0)
    assert not out["memory_flat"]
    assert out["rss_mb_peak_after_warm"] > out["rss_mb_peak_before_warm"]


def test_warm_up_ends_when_two_full_windows_of_ids_are_held() -> None:
    from bench.monitor_soak import warm_up_min

    assert warm_up_min(3000.0, 300.0) == 10.0  # started on a window boundary
    assert abs(warm_up_min(3001.0, 300.0) - (900 - 1) / 60) < 1e-9  # just after one
