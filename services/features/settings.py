"""Settings of the features service (the feature writer; the Flink job takes
its own flags, see job/features_job.py)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from features.catalog import DEFAULT_SESSION_GAP_S
from mlmesh.common import ports
from mlmesh.common.settings import MeshSettings, field


class Settings(MeshSettings):
    model_config = SettingsConfigDict(env_prefix="MLMESH_FEATURES_", extra="ignore",
                                      populate_by_name=True)
    service_name: ClassVar[str] = "feature-writer"

    input_topic: str = field("feature_updates", "FeatureUpdate topic the writer consumes")
    group_id: str = field("feature-writer", "consumer group of the writer")
    # A Feast write's cost is mostly per call (500 rows ~170 ms, 5,000 ~580 ms
    # here): a burst of window closings is drained in few large writes, while a
    # trickle is written as it comes (consume returns what is there).
    batch_size: int = field(5000, "records per Feast write, at most")
    poll_timeout_s: float = field(0.05, "consume() timeout; bounds added latency")
    window_end_cache: int = field(
        100_000, "users per feature view whose stored window end the writer remembers "
        "(the newest-window rule then reads the store once per user, not once per batch; "
        "0: read it every batch)")
    # at least a minute: a tile delta's events (within one minute) must be one cluster
    session_gap_s: int = Field(
        default=DEFAULT_SESSION_GAP_S, ge=60,
        description="session gap (s): events closer than this are one session; stored "
                    "with each user's tiles, so readers use the writer's gap")
    offline_dir: Path | None = field(None, "Parquet offline dir (<state>/features/offline)")
    compact_interval_s: float = field(
        600.0, "seconds between merges of the offline store's small Parquet files "
        "(features.compact; 0: never)")
    compact_min_files: int = field(32, "a view is compacted once it has this many small files")
    compact_target_mb: int = field(64, "size of a compacted file, at most (input bytes)")
    metrics_port: int = field(ports.FEATURES_METRICS,
                              "Prometheus endpoint; answers once the writer is ready")
