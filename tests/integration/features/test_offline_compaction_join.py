"""Feast's point-in-time join reads the same features from the offline store
after its small files are compacted as before (real Feast, file offline store),
and still only windows closed before each label time."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from features.catalog import VIEWS
from features.compact import compact
from features.store import FeastStore, FeatureRow

MIN = 60_000
BASE = 1_790_000_000_000 // MIN * MIN
REFS = ["user_activity_5m:event_count_5m", "user_activity_5m:amount_mean_5m",
        "user_activity_1h:event_count_1h"]


def _rows(batch: int) -> list[FeatureRow]:
    out = []
    for u in range(4):
        end = BASE + (batch + 1) * MIN
        v5 = {f: 0.0 for f in VIEWS["user_activity_5m"].features}
        v5.update(event_count_5m=float(batch + u), amount_mean_5m=batch * 1.5 + u)
        out.append(FeatureRow(f"u{u}", "user_activity_5m", end - 5 * MIN, end, v5,
                              end + 200))
        if batch % 5 == 0:
            v1 = {f: 0.0 for f in VIEWS["user_activity_1h"].features}
            v1["event_count_1h"] = float(10 * batch + u)
            out.append(FeatureRow(f"u{u}", "user_activity_1h", end - 60 * MIN, end, v1,
                                  end + 300))
    return out


def _join(store: FeastStore, entity_df: pd.DataFrame) -> pd.DataFrame:
    df = store.open().get_historical_features(entity_df=entity_df, features=REFS).to_df()
    return df.sort_values(["user_id", "event_timestamp"]).reset_index(drop=True)


def test_join_reads_the_same_after_compaction(tmp_path: Path) -> None:
    store = FeastStore(tmp_path)
    store.open()
    for b in range(40):
        store.write_offline(_rows(b))
    store.write_offline(_rows(7))  # a replayed batch
    labels = [BASE + m * MIN + 30_000 for m in (3, 9, 17, 26, 38)]
    entity_df = pd.DataFrame({
        "user_id": [f"u{u}" for u in range(4) for _ in labels],
        "event_timestamp": [datetime.fromtimestamp(t / 1000, tz=timezone.utc)
                            for _ in range(4) for t in labels],
    })
    before = _join(store, entity_df)
    files_before = sum(len(list((store.offline_dir / v).glob("*.parquet"))) for v in VIEWS)
    results = {r.view: r for r in compact(store.offline_dir, min_files=2)}
    assert results["user_activity_5m"].inputs == 41 and results["user_activity_5m"].outputs == 1
    assert results["user_activity_1h"].inputs == 8 and results["user_activity_1h"].outputs == 1
    files_after = sum(len(list((store.offline_dir / v).glob("*.parquet"))) for v in VIEWS)
    assert files_before == 49 and files_after == 2
    after = _join(store, entity_df)
    pd.testing.assert_frame_equal(before, after, check_like=True)
    # and what it reads is each label's last closed window: at minute m + 0.5 the
    # 5-minute window that ended at minute m, batch m - 1
    for rec in after.to_dict("records"):
        at = int(pd.Timestamp(rec["event_timestamp"]).timestamp() * 1000)
        batch = (at - BASE) // MIN - 1
        u = int(rec["user_id"][1:])
        assert rec["event_count_5m"] == batch + u
        assert rec["event_count_1h"] == 10 * (batch // 5 * 5) + u
