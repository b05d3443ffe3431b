"""Wiring of the monitor: the faust app, its tables and agents, the timers
(rule evaluation, lag probe, expiry sweep), the HTTP page and OpenTelemetry.

Processing guarantee: faust's at-least-once (offsets are committed every
``commit_interval_s`` after the producer - hence every changelog write - is
flushed). What makes the monitor's own state exactly-once is the per-record
offset watermark (see :mod:`monitor.state`): after a restart faust restores the
tables from their changelogs, re-delivers records after the last committed
offset (partitions never committed from their first offset:
:mod:`monitor.seek`), and every record whose offset is at or below its window
record's watermark is skipped. Upstream duplicates (same request_id/doc_id/label_id at
another offset) are dropped through the ``seen`` table.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import ssl
import threading
import time
from typing import Any

import faust

from mlmesh.common.logging import configure_logging
from mlmesh.common.retry import RetryStopped
from mlmesh.common.telemetry import init_telemetry
from monitor import agents, otel, web
from monitor.evaluator import Evaluator, alert_proto
from monitor.lagprobe import LagProbe
from monitor.lease import Lease, StandbyServer
from monitor.seek import MonitorApp
from monitor.settings import Settings
from monitor.state import Monitor
from monitor.tritonstats import TritonCompute

log = logging.getLogger(__name__)


def _recovered(app: faust.App) -> bool:
    tables: Any = app.tables
    return bool(tables.recovery.completed.is_set())


def broker_credentials(s: Settings) -> Any:
    """faust's credentials for the mesh's Kafka security settings (None: plaintext)."""
    protocol = s.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return None
    ctx = None
    if protocol in ("SSL", "SASL_SSL"):
        ctx = ssl.create_default_context(
            cafile=str(s.kafka_ssl_ca) if s.kafka_ssl_ca is not None else None)
    if protocol == "SSL":
        return faust.SSLCredentials(ctx)
    return faust.SASLCredentials(username=s.kafka_sasl_username,
                                 password=s.kafka_sasl_password.get_secret_value(),
                                 mechanism=s.kafka_sasl_mechanism, ssl_context=ctx)


def build_app(settings: Settings) -> tuple[faust.App, Monitor]:
    s = settings
    s.data_dir.mkdir(parents=True, exist_ok=True)
    app = MonitorApp(
        s.app_id,
        broker="kafka://" + ";".join(b.strip() for b in s.kafka_bootstrap.split(",")),
        broker_credentials=broker_credentials(s),
        store="memory://",
        datadir=str(s.data_dir),
        web_enabled=False,
        topic_partitions=1,
        topic_replication_factor=s.kafka_replication_factor,
        broker_commit_interval=s.commit_interval_s,
        consumer_auto_offset_reset="earliest",
        table_cleanup_interval=30.0,
        producer_acks=-1,
        # A SIGKILLed member blocks the group's next rebalance until its session
        # expires: keep that short so a restarted monitor resumes quickly.
        broker_session_timeout=s.session_timeout_s,
        broker_heartbeat_interval=max(1.0, s.session_timeout_s / 3),
        autodiscover=False,
    )
    mon = Monitor(app, s)
    agents.register(app, mon)
    compute = TritonCompute(s.triton_url, s.triton_model,
                            keep_s=s.retention_s) if s.triton_url else None
    evaluator = Evaluator(mon, compute)
    # a group with no committed offset yet (just started) is asked again after
    # three probes, its client closed meanwhile
    probe = LagProbe(s.kafka_bootstrap, s.kafka_extra(), groups=s.lag_groups.split(","),
                     max_groups=s.lag_max_groups, recheck_s=3 * s.lag_interval_s)
    rt = mon.runtime

    if compute is not None:
        @app.timer(s.triton_interval_s, name="monitor_triton_compute")
        async def triton_compute() -> None:
            await asyncio.get_running_loop().run_in_executor(None, compute.poll, time.time())

    @app.timer(s.eval_interval_s, name="monitor_evaluate")
    async def evaluate() -> None:
        if not _recovered(app):
            return
        for t in evaluator.tick():
            alert = alert_proto(t, time.time())
            await mon.alerts_topic.send(key=t.rule.name.encode(),
                                        value=alert.SerializeToString())
            entry = {"rule": t.rule.name, "severity": t.rule.severity, "resolved": t.resolved,
                     "value": t.value, "threshold": t.rule.threshold, "labels": t.state.labels,
                     "at": time.time(), "message": alert.message}
            rt.recent_alerts.append(entry)
            del rt.recent_alerts[:-500]
            (log.info if t.resolved else log.warning)(
                "alert " + ("resolved" if t.resolved else "firing"), extra={
                    "rule": t.rule.name, "severity": t.rule.severity, "value": t.value,
                    "threshold": t.rule.threshold, "labels": dict(t.state.labels)})

    @app.timer(s.lag_interval_s, name="monitor_lag")
    async def lag() -> None:
        try:
            rt.lags = await asyncio.get_running_loop().run_in_executor(None, probe.fetch)
            rt.lag_error = ""
        except Exception as exc:
            rt.lag_error = str(exc)
            log.warning("lag probe failed", extra={"error": str(exc)})

    @app.timer(60.0, name="monitor_sweep")
    async def sweep() -> None:
        if _recovered(app):
            removed = mon.sweep(time.time())
            if removed:
                log.info("expired windows swept", extra={"keys": removed})

    @app.task
    async def serve_http() -> None:
        await web.start(rt, s.http_host, s.http_port)
        log.info("dashboard up", extra={"url": f"http://{s.http_host}:{s.http_port}/"})

    return app, mon


def stand_by(settings: Settings) -> Lease | None:
    """Wait as a standby until this replica holds the lease: the lease, or
    None when SIGTERM/SIGINT came first."""
    s = settings
    lease = Lease(s.kafka_bootstrap, s.kafka_extra(), s.topic("monitor-lease"),
                  f"{s.app_id}-lease", s.session_timeout_s, s.kafka_replication_factor,
                  on_lost=lambda: os.kill(os.getpid(), signal.SIGTERM))
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set())
                for sig in (signal.SIGTERM, signal.SIGINT)}
    held = False
    try:
        try:
            lease.start(stop.is_set)
        except RetryStopped:
            return None
        with StandbyServer(s.http_host, s.http_port, lease):
            log.info("monitor standing by until it holds the lease", extra={
                "group": lease.group})
            held = lease.wait(stop)
    finally:
        for sig, handler in previous.items():
            # until faust installs its own handlers: a stop is a clean exit
            signal.signal(sig, _exit_cleanly if held else handler)
    if not held:
        lease.close()
        return None
    return lease


def _exit_cleanly(_signum: int, _frame: object) -> None:
    raise SystemExit(0)


def main(settings: Settings) -> None:
    configure_logging("monitor", settings.log_level, settings.log_json)
    lease = stand_by(settings) if settings.lease else None
    if settings.lease and lease is None:
        return  # stopped while standing by
    app, mon = build_app(settings)
    tel = init_telemetry("monitor", settings.metrics_port)
    otel.install(tel.meter, mon.runtime)
    log.info("monitor starting", extra={"app_id": settings.app_id,
                                        "bootstrap": settings.kafka_bootstrap,
                                        "window_s": settings.window_s,
                                        "rules": len(mon.engine.rules)})
    worker = faust.Worker(app, loglevel=settings.log_level, override_logging=False, quiet=True)
    try:
        worker.execute_from_commandline()
    finally:
        dlq = getattr(mon, "_dlq_producer", None)
        if dlq is not None:
            dlq.flush(10)  # dead letters of undecodable predictions/labels
        tel.shutdown()
        if lease is not None:
            lease.close()  # leaves the group: a standby takes over at once
