"""Feast objects of the feature contract, built from :mod:`features.catalog`.

A function, not module globals, so the writer and CLI choose the offline
directory; ``feature_repo/repo.py`` calls it for the ``feast`` CLI. Each view
is fed by a push source whose batch source is a directory of Parquet files
(one file per writer batch, merged by ``features.compact``; no pandas index)
under ``offline_dir/<view>``.
Importing this module imports Feast (3-12 s): keep it off hot start paths.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from feast import Entity, FeatureService, FeatureView, Field, FileSource, PushSource
from feast.types import Array, Float64, Int64
from feast.value_type import ValueType

from features.catalog import (
    CREATED_COLUMN,
    ENTITY,
    EVENT_TIMESTAMP_COLUMN,
    FEATURE_SERVICE,
    JOIN_KEY,
    VIEWS,
    push_source_name,
)
from features.tiles import DELTA_VIEW, MAX_TS, MIN_TS, MINUTE_FIELDS, TILES_VIEW

PROJECT = "mlmesh"
# Offline look-back of every view. Idle users do not go stale through TTL: the
# job writes an explicit all-zero row for the first empty window (see README).
VIEW_TTL = timedelta(days=2)


@dataclass
class Definitions:
    entity: Entity
    push_sources: list[PushSource]
    views: list[FeatureView]
    service: FeatureService

    def objects(self) -> list[Any]:
        return [self.entity, *self.push_sources, *self.views, self.service]


def view_dir(offline_dir: Path, view: str) -> Path:
    return Path(offline_dir).resolve() / view


def push_source(offline_dir: Path, view: str) -> PushSource:
    """The push source of ``view``, its batch source the view's Parquet directory."""
    batch = FileSource(name=f"{view}_parquet", path=str(view_dir(offline_dir, view)),
                       timestamp_field=EVENT_TIMESTAMP_COLUMN,
                       created_timestamp_column=CREATED_COLUMN)
    return PushSource(name=push_source_name(view), batch_source=batch)


def definitions(offline_dir: Path) -> Definitions:
    user = Entity(name=ENTITY, join_keys=[JOIN_KEY], value_type=ValueType.STRING,
                  description="A mesh user (the key of every topic)")
    pushes: list[PushSource] = []
    views: list[FeatureView] = []
    for spec in VIEWS.values():
        push = push_source(offline_dir, spec.name)
        pushes.append(push)
        schema = [Field(name=f, dtype=Float64 if not spec.is_count(f) else Int64)
                  for f in spec.features]
        views.append(FeatureView(name=spec.name, entities=[user], ttl=VIEW_TTL, schema=schema,
                                 source=push, online=True,
                                 tags={"window_ms": str(spec.size_ms),
                                       "slide_ms": str(spec.slide_ms)}))
    service = FeatureService(name=FEATURE_SERVICE, features=list[Any](views),
                             description="The window-close views (--mode windows, the baseline)")
    pushes_t, views_t = tile_views(offline_dir, user)
    return Definitions(user, pushes + pushes_t, views + views_t, service)


def tile_views(offline_dir: Path, user: Entity) -> tuple[list[PushSource], list[FeatureView]]:
    """The tiles (``features.tiles``): each user's retained tiles, one online
    row of ``user_tiles``; every tile delta, offline in ``tile_delta_1m``
    (event_timestamp = the delta's newest event time). Served values are
    computed from them at read time (``features.tiles.features_at``)."""
    tiles_push = push_source(offline_dir, TILES_VIEW)
    tiles = FeatureView(
        name=TILES_VIEW, entities=[user], ttl=VIEW_TTL, source=tiles_push, online=True,
        schema=[Field(name="minute_tiles", dtype=Array(Float64)),
                Field(name="hour_tiles", dtype=Array(Float64)),
                Field(name="sessions", dtype=Array(Int64)),
                Field(name="newest_event_ms", dtype=Int64),
                Field(name="applied_offset", dtype=Array(Int64)),
                Field(name="session_gap_ms", dtype=Int64)],
        description="Per-user tiles; layout in features/tiles.py (UserTiles.to_arrays)")
    delta_push = push_source(offline_dir, DELTA_VIEW)
    deltas = FeatureView(
        name=DELTA_VIEW, entities=[user], ttl=VIEW_TTL, source=delta_push, online=False,
        schema=[Field(name="tile_start", dtype=Int64),
                *(Field(name=f, dtype=Float64) for f in MINUTE_FIELDS),
                Field(name=MIN_TS, dtype=Int64), Field(name=MAX_TS, dtype=Int64),
                Field(name="kafka_partition", dtype=Int64),
                Field(name="kafka_offset", dtype=Int64)],
        description="Every tile delta the writer folded in (offline only)")
    return [tiles_push, delta_push], [tiles, deltas]
