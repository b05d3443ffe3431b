"""Every window result the job emits equals the independent plain-Python
computation (out-of-order events inside the bound count; late ones do not)."""

from __future__ import annotations

import math

from features_scenario import JobRun


def test_every_expected_window_result_is_emitted_with_reference_values(
        features_run: JobRun) -> None:
    got = dict(features_run.observed)
    assert set(got) == set(features_run.expected), (
        f"missing {sorted(set(features_run.expected) - set(got))[:5]} "
        f"extra {sorted(set(got) - set(features_run.expected))[:5]}")
    for key, want in features_run.expected.items():
        have = got[key]
        assert set(have) == set(want), key
        for name, value in want.items():
            assert math.isclose(have[name], value, rel_tol=1e-9, abs_tol=1e-9), (key, name)


def test_each_real_window_result_is_committed_once(features_run: JobRun) -> None:
    """No window result is committed twice. A key may carry one provisional
    all-zero row before its real row (the zero-row timer can fire before the
    window's result reaches the emitter); the later row wins downstream."""
    real: dict[object, int] = {}
    rows: dict[object, list[dict[str, float]]] = {}
    for key, values in features_run.observed:
        rows.setdefault(key, []).append(values)
        if any(values.values()):
            real[key] = real.get(key, 0) + 1
    assert all(n == 1 for n in real.values())
    for key, seen in rows.items():
        assert len(seen) <= 2, key
        if len(seen) == 2:
            assert not any(seen[0].values()), key


def test_all_views_and_zero_rows_are_covered(features_run: JobRun) -> None:
    views = {k[1] for k in features_run.expected}
    assert views == {"user_activity_5m", "user_activity_1h", "user_activity_24h",
                     "user_sessions", "user_documents_1h"}
    zeros = [k for k, v in features_run.expected.items() if not any(v.values())]
    assert zeros, "the scenario must exercise idle-user zero rows"
    sessions = [v for k, v in features_run.expected.items() if k[1] == "user_sessions"]
    assert any(v["session_count_24h"] >= 2 for v in sessions)
