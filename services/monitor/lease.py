"""One active monitor among its replicas: a lease held through a Kafka
consumer group on a one-partition topic.

The monitor's tables have one changelog partition (README, "Limits"), so two
replicas must not both run the faust app. Every replica joins the group
``<app_id>-lease`` on ``<prefix>monitor-lease``; the one the partition is
assigned to is active and runs the app, the others wait as standbys (their
``/healthz`` says so). ``cooperative-sticky`` assignment keeps the partition
where it is when a standby joins. When the active replica dies, its session
expires (``session_timeout_s``) and the group hands the partition to a
standby, which recovers the tables from their changelogs and carries on. An
active replica that loses the lease (its session expired while it lived:
paused, partitioned) stops, so two never write the tables at once.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from confluent_kafka import Consumer, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient

from mlmesh.common.retry import Retry
from mlmesh.kafka.topics import TopicSpec, ensure_topics

log = logging.getLogger("monitor.lease")

POLL_S = 0.5
# the lease topic while the brokers come up: then the process exits (and is restarted)
TOPIC_RETRY = Retry(attempts=30, deadline_s=180.0, backoff_s=0.5, max_backoff_s=5.0)


class Lease:
    """The group membership, polled by a thread of its own."""

    def __init__(self, bootstrap: str, extra: dict[str, str], topic: str, group: str,
                 session_timeout_s: float, replication_factor: int = 1,
                 on_lost: Callable[[], None] = lambda: None) -> None:
        self.topic, self.group = topic, group
        self.conf: dict[str, Any] = {
            "bootstrap.servers": bootstrap, **extra, "group.id": group,
            "enable.auto.commit": False, "auto.offset.reset": "latest",
            "partition.assignment.strategy": "cooperative-sticky",
            "session.timeout.ms": int(session_timeout_s * 1000),
            "heartbeat.interval.ms": max(500, int(session_timeout_s * 1000 / 3)),
            "log_level": 3}
        self.admin_conf: dict[str, Any] = {"bootstrap.servers": bootstrap, **extra}
        self.replication_factor = replication_factor
        self.on_lost = on_lost
        self.held = threading.Event()
        self.joined = threading.Event()  # the first assignment came (maybe empty)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, stop: Callable[[], bool] = lambda: False) -> None:
        """The lease topic (retried while the brokers come up: RetriesExhausted
        past TOPIC_RETRY, RetryStopped on ``stop``), then the group's thread."""
        spec = TopicSpec(self.topic, 1, self.replication_factor)
        TOPIC_RETRY.call(lambda: ensure_topics(AdminClient(self.admin_conf), [spec], 30.0),
                         lambda e: isinstance(e, KafkaException | TimeoutError),
                         f"lease topic {self.topic}", stop=stop)
        self._thread = threading.Thread(target=self._run, name="monitor-lease", daemon=True)
        self._thread.start()

    def wait(self, stop: threading.Event) -> bool:
        """Block until the lease is held (True) or ``stop`` is set (False)."""
        while not stop.is_set():
            if self.held.wait(POLL_S):
                return True
        return False

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=15)

    @property
    def standing_by(self) -> bool:
        """In the group, and another replica holds the lease."""
        return self.joined.is_set() and not self.held.is_set()

    def _assigned(self, _c: Consumer, parts: list[TopicPartition]) -> None:
        self.joined.set()
        if parts and not self.held.is_set():
            log.info("lease acquired: this monitor replica is active",
                     extra={"group": self.group})
            self.held.set()

    def _revoked(self, _c: Consumer, parts: list[TopicPartition]) -> None:
        if self._stop.is_set():  # our own close() gives the lease back: not a loss
            self.held.clear()
            return
        if parts and self.held.is_set():
            self.held.clear()
            log.error("lease lost: another monitor replica is active now; stopping",
                      extra={"group": self.group})
            self.on_lost()

    def _run(self) -> None:
        consumer = Consumer(self.conf)
        consumer.subscribe([self.topic], on_assign=self._assigned, on_revoke=self._revoked,
                           on_lost=self._revoked)
        try:
            while not self._stop.is_set():
                consumer.poll(POLL_S)
        finally:
            consumer.close()  # leaves the group: a standby takes over at once


class StandbyServer:
    """What a replica answers on the dashboard's port until it is active:
    ``/healthz`` 200 once it stands by (another replica holds the lease; 503
    while it is still joining, so a lone replica is not reported up before
    its tables are), everything else 503 (``/readyz`` too: no dashboard
    traffic comes to a standby)."""

    def __init__(self, host: str, port: int, lease: Lease) -> None:
        started = time.time()
        group = lease.group

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                ok = self.path.split("?")[0] == "/healthz" and lease.standing_by
                body = json.dumps({"ready": False, "role": "standby", "lease_group": group,
                                   "standby_s": round(time.time() - started, 1)}).encode()
                self.send_response(200 if ok else 503)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args: Any) -> None:
                return

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, name="monitor-standby",
                                       daemon=True)

    def __enter__(self) -> StandbyServer:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()  # the port is the active dashboard's next
