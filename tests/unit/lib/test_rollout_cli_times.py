"""`mlmesh rollout history --at` takes ISO times (with or without a zone:
UTC) and epoch seconds or milliseconds."""

from __future__ import annotations

from mlmesh.cli.rollout import _at_ms


def test_times_in_every_accepted_form() -> None:
    ms = 1_796_569_200_000  # 2026-12-06T15:00:00Z
    assert _at_ms("2026-12-06T15:00:00Z") == ms
    assert _at_ms("2026-12-06T15:00:00") == ms
    assert _at_ms("2026-12-06T16:00:00+01:00") == ms
    assert _at_ms(str(ms // 1000)) == ms
    assert _at_ms(str(ms)) == ms
