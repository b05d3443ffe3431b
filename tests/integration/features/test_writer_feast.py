"""feature_updates -> the real feature writer loop -> Feast (SQLite online,
Parquet offline): online holds each user's newest window, and a historical
join returns, per label time, only windows closed before it."""

from __future__ import annotations

import math
import threading
import uuid
from collections.abc import Iterator
from datetime import datetime, timezone

import pandas as pd
import pytest
from features_reference import latest_before
from features_scenario import JobRun

from features.catalog import VIEWS
from features.store import FeastStore, FeatureRow
from features.writer.app import BatchWriter
from mlmesh.common.lifecycle import StopSignal
from mlmesh.kafka.config import consumer_config, producer_config
from mlmesh.kafka.producer import MeshProducer
from mlmesh.kafka.sink import SinkLoop
from mlmesh.testing.kafka import consume_all


@pytest.fixture(scope="module")
def store(features_run: JobRun) -> Iterator[FeastStore]:
    st = FeastStore(features_run.state_dir / "writer")
    st.open()
    total = len(consume_all(features_run.bootstrap, features_run.topics.out, timeout=60))
    stop = StopSignal()
    loop = SinkLoop(
        consumer_config=consumer_config(features_run.bootstrap, f"w-{uuid.uuid4().hex[:6]}",
                                        "test-writer"),
        topics=[features_run.topics.out], handle_batch=BatchWriter(st), service="test",
        stop=stop, dlq_producer=MeshProducer(producer_config(features_run.bootstrap, "t")),
        batch_size=200)
    thread = threading.Thread(target=loop.run, daemon=True)
    thread.start()
    deadline = 120.0
    import time

    t0 = time.monotonic()
    while loop.stats.consumed < total and time.monotonic() - t0 < deadline:
        time.sleep(0.2)
    stop.set()
    thread.join(30)
    assert loop.stats.consumed == total and loop.stats.dead_lettered == 0
    yield st


def test_online_holds_each_users_newest_window(features_run: JobRun, store: FeastStore) -> None:
    users = sorted({k[0] for k in features_run.expected})
    for user in users:
        online = {o.view: o for o in store.read_user(user)}
        for view in VIEWS:
            latest = latest_before(features_run.expected, user, view, 2**62)
            if latest is None:
                continue
            end, want = latest
            got = online[view]
            assert got.window_end is not None
            assert int(got.window_end.timestamp()) == end // 1000, (user, view)
            for name, value in want.items():
                assert math.isclose(float(got.values[name]), value, rel_tol=1e-9,
                                    abs_tol=1e-9), (user, view, name)


def test_older_result_never_overwrites_newer(store: FeastStore) -> None:
    new = FeatureRow("pit-user", "user_activity_1h", 0, 7_200_000,
                     {"event_count_1h": 5.0}, 1)
    old = FeatureRow("pit-user", "user_activity_1h", 0, 3_600_000,
                     {"event_count_1h": 1.0}, 2)
    store.write([new])
    store.write([old])
    got = {o.view: o for o in store.read_user("pit-user")}["user_activity_1h"]
    assert got.values["event_count_1h"] == 5


def test_historical_join_uses_only_windows_closed_before_label(
        features_run: JobRun, store: FeastStore) -> None:
    base = features_run.stream.base
    users = sorted({k[0] for k in features_run.expected})
    label_times = [base + m * 60_000 + 30_000 for m in (7, 13, 19, 45, 24 * 60 + 30)]
    rows = [(u, t) for u in users for t in label_times]
    entity_df = pd.DataFrame({
        "user_id": [u for u, _ in rows],
        "event_timestamp": [datetime.fromtimestamp(t / 1000, tz=timezone.utc) for _, t in rows],
    })
    refs = ["user_activity_5m:event_count_5m", "user_activity_5m:amount_sum_5m",
            "user_activity_1h:event_count_1h", "user_sessions:session_count_24h"]
    df = store.open().get_historical_features(entity_df=entity_df, features=refs).to_df()
    # Feast drops entity rows with no feature data before their timestamp
    assert 0 < len(df) <= len(rows)
    checked = 0
    for rec in df.to_dict("records"):
        at = int(pd.Timestamp(rec["event_timestamp"]).timestamp() * 1000)
        for ref in refs:
            view, name = ref.split(":")
            latest = latest_before(features_run.expected, rec["user_id"], view, at)
            value = rec[name]
            if latest is None:
                assert value is None or pd.isna(value), (rec["user_id"], at, ref)
            else:
                assert latest[0] <= at
                assert math.isclose(float(value), latest[1][name], rel_tol=1e-9,
                                    abs_tol=1e-9), (rec["user_id"], at, ref)
                checked += 1
    assert checked > 0
