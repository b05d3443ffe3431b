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
from feast.types import Float64, Int64
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


def definitions(offline_dir: Path) -> Definitions:
    user = Entity(name=ENTITY, join_keys=[JOIN_KEY], value_type=ValueType.STRING,
                  description="A mesh user (the key of every topic)")
    pushes: list[PushSource] = []
    views: list[FeatureView] = []
    for spec in VIEWS.values():
        batch = FileSource(name=f"{spec.name}_parquet", path=str(view_dir(offline_dir, spec.name)),
                           timestamp_field=EVENT_TIMESTAMP_COLUMN,
                           created_timestamp_column=CREATED_COLUMN)
        push = PushSource(name=push_source_name(spec.name), batch_source=batch)
        pushes.append(push)
        schema = [Field(name=f, dtype=Float64 if not spec.is_count(f) else Int64)
                  for f in spec.features]
        views.append(FeatureView(name=spec.name, entities=[user], ttl=VIEW_TTL, schema=schema,
                                 source=push, online=True,
                                 tags={"window_ms": str(spec.size_ms),
                                       "slide_ms": str(spec.slide_ms)}))
    service = FeatureService(name=FEATURE_SERVICE, features=list[Any](views),
                             description="Every feature of the risk model, version 1")
    return Definitions(user, pushes, views, service)
