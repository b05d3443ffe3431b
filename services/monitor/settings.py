"""The monitor's settings (env prefix ``MLMESH_MONITOR_``)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from mlmesh.common import ports
from mlmesh.common.settings import MeshSettings, field

DATA_TOPICS = ("user_events", "documents", "labels", "feature_updates", "embeddings_written",
               "predictions", "alerts")


def _default_alerts_file() -> Path:
    """The rules shipped with the monitor (package data: images carry them)."""
    return Path(__file__).with_name("alerts.yaml")


class Settings(MeshSettings):
    model_config = SettingsConfigDict(env_prefix="MLMESH_MONITOR_", extra="ignore",
                                      populate_by_name=True)
    service_name: ClassVar[str] = "monitor"

    metrics_port: int = field(ports.MONITOR_METRICS, "Prometheus scrape port (0 = off)")
    http_host: str = field("127.0.0.1", "dashboard/API bind address")
    http_port: int = field(ports.MONITOR_HTTP, "dashboard/API port")
    app_id: str = field("mlmesh-monitor", "faust app id: consumer group and changelog prefix")
    topic_prefix: str = field("", "prefix of every mesh topic (test isolation)")
    window_s: float = field(30.0, "tumbling window of the aggregate table, seconds")
    retention_s: float = field(3600.0, "windows older than this expire")
    summary_range_s: float = field(300.0, "history the dashboard/summary covers, seconds")
    eval_interval_s: float = field(1.0, "rule evaluation / summary period")
    lag_interval_s: float = field(5.0, "consumer-lag probe period")
    lag_groups: str = field("", "consumer groups whose lag is watched (comma list of names "
                                "or fnmatch patterns such as 'mlmesh-*'; empty = every group)")
    lag_max_groups: int = field(200, "most consumer groups asked per probe (one client each)")
    alerts_file: Path = field(_default_alerts_file(), "alert rules (YAML)")
    price_cpu_hour: float = field(0.048, "price of one CPU hour")
    price_gpu_hour: float = field(2.50, "price of one GPU hour")
    embedder_device: str = field("cpu", "what the embedder's model_ms runs on: cpu|gpu")
    triton_url: str = field("", "Triton's HTTP endpoint whose statistics give the scoring "
                                "model's compute per version (empty: cost from the inference "
                                "service's CPU time alone)")
    triton_model: str = field("risk_scorer", "the scoring model on Triton")
    triton_interval_s: float = field(5.0, "Triton statistics read period")
    model_device: str = field("cpu", "what Triton runs the scoring model on: cpu|gpu")
    freshness_target_ms: float = field(300_000.0, "freshness objective (99% under it)")
    accuracy_threshold: float = field(0.5, "score at or above which a prediction is positive")
    reference_min_count: int = field(200, "predictions a window needs to become the drift "
                                           "reference of its model version")
    dedupe_ttl_s: float = field(600.0, "how long request/doc/label ids are remembered")
    batch_max: int = field(2000, "records per agent batch")
    batch_within_s: float = field(0.25, "max wait to fill a batch")
    commit_interval_s: float = field(2.0, "source offset commit period")
    session_timeout_s: float = field(10.0, "consumer group session timeout")
    lease: bool = field(True, "one active replica: the app runs only while this replica "
                              "holds the lease (a consumer group on a one-partition topic); "
                              "others stand by (monitor.lease)")

    def topic(self, name: str) -> str:
        return f"{self.topic_prefix}{name}"

    @property
    def data_dir(self) -> Path:
        return self.state_dir / "monitor" / self.app_id
