"""Run the monitor as a real subprocess (``python -m monitor``) against a
broker, for integration tests and the benchmark."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from confluent_kafka import Consumer

from mlmesh.events.v1 import alert_pb2
from mlmesh.kafka.topics import TopicSpec, ensure_topics, load_topics
from mlmesh.localstack.base import free_port


class MemoryTable(dict):  # type: ignore[type-arg]
    """For unit tests: the part of a faust table the monitor's state code uses
    (item assignment and ``.data``), in memory."""

    @property
    def data(self) -> dict[Any, Any]:
        return self


def mesh_topics(bootstrap: str, prefix: str) -> list[str]:
    """Create every topic of deploy/topics.yaml under ``prefix``."""
    specs = [TopicSpec(prefix + s.name, s.partitions, s.replication_factor, s.config)
             for s in load_topics()]
    ensure_topics(bootstrap, specs)
    return [s.name for s in specs]


class MonitorProcess:
    def __init__(self, bootstrap: str, state_dir: Path, *, prefix: str | None = None,
                 env: dict[str, str] | None = None, app_id: str | None = None) -> None:
        self.bootstrap = bootstrap
        self.prefix = prefix if prefix is not None else f"t{uuid.uuid4().hex[:8]}."
        self.app_id = app_id or f"monitor-{uuid.uuid4().hex[:8]}"
        self.state_dir = state_dir
        self.http_port = free_port()
        self.metrics_port = free_port()
        self.extra_env = dict(env or {})
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = state_dir / f"{self.app_id}.log"
        self.starts = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update({
            "MLMESH_KAFKA_BOOTSTRAP": self.bootstrap,
            "MLMESH_STATE_DIR": str(self.state_dir),
            "MLMESH_MONITOR_TOPIC_PREFIX": self.prefix,
            "MLMESH_MONITOR_APP_ID": self.app_id,
            "MLMESH_MONITOR_HTTP_PORT": str(self.http_port),
            "MLMESH_MONITOR_METRICS_PORT": str(self.metrics_port),
            "MLMESH_MONITOR_EVAL_INTERVAL_S": "0.5",
            "MLMESH_MONITOR_LAG_INTERVAL_S": "1",
        })
        env.update(self.extra_env)
        return env

    def start(self, timeout: float = 90.0, role: str = "active") -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child
        self.proc = subprocess.Popen([sys.executable, "-m", "monitor"], env=self.env(),
                                     stdout=log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        log.close()
        self.starts += 1
        self.wait_ready(timeout, role)

    def role(self) -> str:
        """What /healthz says: "active", "standby", or "" (not answering 200)."""
        try:
            with urllib.request.urlopen(self.url + "/healthz", timeout=2) as resp:
                return str(json.loads(resp.read()).get("role", "")) if resp.status == 200 else ""
        except (OSError, ValueError):
            return ""

    def wait_ready(self, timeout: float, role: str = "active") -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"monitor exited rc={self.proc.returncode}:\n{self.log_tail()}")
            if self.role() == role:
                return
            time.sleep(0.3)
        raise TimeoutError(f"monitor not {role} after {timeout}s:\n{self.log_tail()}")

    def summary(self) -> dict[str, Any]:
        with urllib.request.urlopen(self.url + "/api/summary", timeout=5) as resp:
            data: dict[str, Any] = json.loads(resp.read())
        return data

    def wait_for(self, predicate: Any, timeout: float = 60.0, what: str = "") -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        last: dict[str, Any] = {}
        while time.monotonic() < deadline:
            try:
                last = self.summary()
                if predicate(last):
                    return last
            except OSError:
                pass
            time.sleep(0.3)
        raise TimeoutError(f"monitor: {what} not reached in {timeout}s; last processed="
                           f"{last.get('processed')}\n{self.log_tail()}")

    def wait_changelogs_settled(self, quiet_s: float = 2.0,
                                timeout: float = 60.0) -> dict[tuple[str, int], int]:
        """Wait until the end offsets of the app's changelog topics
        (``<app id>-...-changelog``) have not moved for ``quiet_s``: every table
        write made so far is then on the broker (faust sends them
        asynchronously, and a loaded host can take seconds). Returns them."""
        from monitor.lagprobe import LagProbe

        probe = LagProbe(self.bootstrap)
        meta = probe.admin.list_topics(timeout=10)
        parts = {(name, p) for name, t in meta.topics.items()
                 if name.startswith(f"{self.app_id}-") and name.endswith("-changelog")
                 for p in t.partitions}
        deadline = time.monotonic() + timeout
        last = probe.end_offsets(parts)
        since = time.monotonic()
        while time.monotonic() < deadline:
            time.sleep(0.25)
            now = probe.end_offsets(parts)
            if now != last:
                last, since = now, time.monotonic()
            elif time.monotonic() - since >= quiet_s:
                return last
        raise TimeoutError(f"monitor changelogs still moving after {timeout}s: {last}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, sig)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def sample(summary: dict[str, Any], metric: str, **labels: str) -> dict[str, Any] | None:
    for s in summary.get("samples", {}).get(metric, []):
        if all(s["labels"].get(k) == v for k, v in labels.items()):
            return dict(s)
    return None


def write_rules(path: Path, rules: list[dict[str, Any]]) -> Path:
    path.write_text(yaml.safe_dump({"rules": rules}))
    return path


class AlertReader:
    """Reads Alert protos from the (prefixed) alerts topic as they arrive."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.consumer = Consumer({"bootstrap.servers": bootstrap,
                                  "group.id": f"alert-reader-{uuid.uuid4().hex[:8]}",
                                  "auto.offset.reset": "earliest",
                                  "enable.auto.commit": False})
        self.consumer.subscribe([topic])
        self.seen: list[tuple[bytes, alert_pb2.Alert]] = []

    def wait_for(self, predicate: Callable[[alert_pb2.Alert], bool],
                 timeout: float) -> tuple[bytes, alert_pb2.Alert]:
        for key, alert in self.seen:
            if predicate(alert):
                return key, alert
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = self.consumer.poll(0.2)
            if msg is None or msg.error():
                continue
            alert = alert_pb2.Alert.FromString(msg.value() or b"")
            self.seen.append((msg.key() or b"", alert))
            if predicate(alert):
                return msg.key() or b"", alert
        raise TimeoutError(f"no matching alert in {timeout}s; saw "
                           f"{[(a.rule, a.resolved, dict(a.labels)) for _, a in self.seen]}")

    def close(self) -> None:
        self.consumer.close()
