"""The writer's online write goes straight to Feast's online store interface
(``online_write_batch``) with value protos it builds itself; what a reader gets
back through Feast must be exactly what Feast's own ``write_to_online_store``
(DataFrame -> protos) stores for the same rows: every view, counts as Int64,
the rest as Float64, NaN as null, event and created timestamps, on both
backends the writer supports."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from features.catalog import JOIN_KEY, VIEWS
from features.store import FeastStore, FeatureRow

END_MS = 1_764_000_120_000
USERS = [f"user-{i}" for i in range(40)]


def rows() -> list[FeatureRow]:
    out = []
    for view, spec in VIEWS.items():
        for n, user in enumerate(USERS):
            values = {f: float(n * 7 + j) + (0.0 if spec.is_count(f) else 0.25)
                      for j, f in enumerate(spec.features)}
            if n == 3 and not spec.is_count(spec.features[-1]):
                values[spec.features[-1]] = math.nan
            if n == 5:  # a row missing a feature reads as 0, as in the DataFrame path
                values.pop(spec.features[0])
            end = END_MS + n * 1_000 + 137  # distinct, not whole-second window ends
            out.append(FeatureRow(user, view, end - 60_000, end, values, end + 250 + n))
    return out


@pytest.fixture(params=["sqlite", "redis"])
def backend(request: pytest.FixtureRequest) -> Iterator[tuple[str, dict[str, str]]]:
    if request.param == "redis":
        yield "redis", {"redis_url": request.getfixturevalue("redis_url")}
    else:
        yield "sqlite", {}


def read_all(store: FeastStore) -> dict[str, Any]:
    feast = store.open()
    out = {}
    for view, spec in VIEWS.items():
        out[view] = feast.get_online_features(
            features=[f"{view}:{f}" for f in spec.features],
            entity_rows=[{JOIN_KEY: u} for u in USERS],
        ).to_dict(include_event_timestamps=True)
    return out


def test_direct_write_reads_back_as_feasts_own_write(
        backend: tuple[str, dict[str, str]], tmp_path: Path) -> None:
    online, kwargs = backend
    if online == "redis":
        # one server for both stores: separate databases keep them apart
        base = kwargs["redis_url"].rsplit("/", 1)[0]
        ours = FeastStore(tmp_path / "ours", online=online, redis_url=f"{base}/1")
        theirs = FeastStore(tmp_path / "theirs", online=online, redis_url=f"{base}/2")
    else:
        ours = FeastStore(tmp_path / "ours", online=online)
        theirs = FeastStore(tmp_path / "theirs", online=online)
    data = rows()
    assert ours.write_online(data) == len(data)
    for view in VIEWS:
        view_rows = [r for r in data if r.view == view]
        theirs.open().write_to_online_store(view, theirs._frame(view, view_rows))

    got, want = read_all(ours), read_all(theirs)
    for view, spec in VIEWS.items():
        for f in spec.features:
            a, b = got[view][f], want[view][f]
            assert [None if isinstance(x, float) and math.isnan(x) else x for x in a] == \
                [None if isinstance(x, float) and math.isnan(x) else x for x in b], (view, f)
            assert got[view][f"{f}__ts"] == want[view][f"{f}__ts"], (view, f)
            kinds = {type(x) for x in a if x is not None}
            assert kinds <= ({int} if spec.is_count(f) else {float}), (view, f, kinds)
    # the rows really landed (not two empty stores agreeing)
    first = VIEWS["user_sessions"].features[0]
    assert got["user_sessions"][first][1] is not None
    # and the window ends the idempotency rule reads back are the rows' own
    ends = ours.online_window_ends("user_sessions", USERS)
    # (SQLite keeps event timestamps to the whole second, Redis to the ms)
    precision = 1 if online == "redis" else 1000
    assert ends == {u: (END_MS + n * 1_000 + 137) // precision * precision
                    for n, u in enumerate(USERS)}
