"""The writer makes a batch visible online before it appends it offline; a
crash between the two must lose nothing offline. Real Feast (SQLite online,
Parquet offline, local files): a batch whose offline append fails after the
online write is replayed by a fresh writer (as after a restart); online it is
skipped (already folded), offline every delta is there once, and the
offline as-of-t values equal the online ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from features import offline
from features.store import FeastStore
from features.tile_store import TileStore
from features.tiles import Delta, features_at

pytestmark = pytest.mark.integration

GAP_MS = 30 * 60_000
T0 = 1_760_000_000_000 - 1_760_000_000_000 % 60_000


def _deltas() -> list[Delta]:
    out = []
    for i in range(12):
        t = T0 + i * 7_000
        out.append(Delta(f"u{i % 3}", t - t % 60_000,
                         {"events": 2.0, "amount": 1.5 * i, "click": 1.0, "purchase": 1.0},
                         t - 500, t, 0, 100 + i, t + 50))
    return out


class _Crash(RuntimeError):
    pass


def test_a_crash_after_online_before_offline_loses_nothing(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    deltas = _deltas()
    store = FeastStore(tmp_path)
    first = TileStore(store, GAP_MS)
    first.write(deltas[:6])  # a committed batch

    def crash(_batch: list[Delta]) -> None:
        raise _Crash("killed between the online write and the offline append")

    monkeypatch.setattr(first, "_write_offline", crash)
    with pytest.raises(_Crash):
        first.write(deltas[6:])  # online written, offline not, offsets not committed
    online_after_crash = first.read(["u0", "u1", "u2"])

    again = TileStore(FeastStore(tmp_path), GAP_MS)  # a restarted writer: replays the batch
    stats = again.write(deltas[6:])
    assert stats.applied == 0 and stats.replayed == 6  # online: already folded
    assert again.read(["u0", "u1", "u2"]) == online_after_crash

    t = deltas[-1].max_ts + 1_000
    rows = [(u, t) for u in ("u0", "u1", "u2")]
    got = offline.historical(again.feast, rows, GAP_MS)
    for (user, _), values in zip(rows, got, strict=True):
        state = online_after_crash[user]
        assert state is not None
        assert values == features_at(state, t, GAP_MS), user
    assert sum(v["event_count_1h"] for v in got) == 2.0 * len(deltas)  # each delta once


def test_visible_time_is_taken_before_the_offline_append(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    import time

    tiles = TileStore(FeastStore(tmp_path), GAP_MS)
    appended: list[float] = []
    real = tiles._write_offline

    def slow(batch: list[Delta]) -> None:
        time.sleep(0.2)
        real(batch)
        appended.append(time.time() * 1000)

    monkeypatch.setattr(tiles, "_write_offline", slow)
    stats = tiles.write(_deltas())
    assert stats.visible_ms > 0 and appended and appended[0] - stats.visible_ms >= 190
