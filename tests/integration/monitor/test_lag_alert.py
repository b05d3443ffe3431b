"""A consumer group that stops committing while producers go on raises the
lag alert (labels: group, topic, partition); catching up resolves it. The
monitor watches only the groups ``MLMESH_MONITOR_LAG_GROUPS`` names (on CI's
shared broker, hundreds of other test groups)."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer

from mlmesh.testing.monitor import AlertReader, sample, write_rules
from monitor import synthetic as sy

THRESHOLD = 300


def test_induced_lag_raises_then_resolves(monitor_factory: Any, tmp_path: Path) -> None:
    rules = write_rules(tmp_path / "alerts.yaml", [
        {"name": "consumer_lag_warning", "metric": "consumer_lag", "threshold": THRESHOLD,
         "severity": "warning"},
        {"name": "consumer_lag_critical", "metric": "consumer_lag", "threshold": 100_000,
         "severity": "critical"}])
    mon = monitor_factory(env={"MLMESH_MONITOR_ALERTS_FILE": str(rules),
                               "MLMESH_MONITOR_LAG_GROUPS": "slow-consumer-*"})
    reader = AlertReader(mon.bootstrap, mon.prefix + "alerts")
    topic = mon.prefix + "labels"
    group = f"slow-consumer-{uuid.uuid4().hex[:6]}"
    prod = sy.producer(mon.bootstrap)
    consumer = Consumer({"bootstrap.servers": mon.bootstrap, "group.id": group,
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    try:
        sy.produce(prod, topic, [sy.label(f"l{i}", f"u{i}", 0.0) for i in range(60)])
        consumer.subscribe([topic])
        got = 0
        deadline = time.monotonic() + 30
        while got < 60 and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is not None and not msg.error():
                got += 1
        consumer.commit(asynchronous=False)  # ... and never again
        mon.wait_for(lambda s: any(x["labels"]["group"] == group
                                   for x in s["samples"].get("consumer_lag", [])), 60, "lag")
        watched = {x["labels"]["group"] for x in mon.summary()["samples"]["consumer_lag"]}
        assert all(g.startswith("slow-consumer-") for g in watched), watched
        assert not any(a["rule"].startswith("consumer_lag") for a in mon.summary()["alerts"])

        sy.produce(prod, topic, [sy.label(f"m{i}", f"user-{i}", 0.0) for i in range(3000)])
        _, alert = reader.wait_for(lambda a: a.rule == "consumer_lag_warning" and not a.resolved
                                   and a.labels["group"] == group, timeout=30)
        assert alert.labels["topic"] == topic and alert.labels["partition"] in {"0", "1", "2"}
        assert alert.value > THRESHOLD
        s = mon.summary()
        lag = sample(s, "consumer_lag", group=group, partition=alert.labels["partition"])
        assert lag is not None and lag["value"] > THRESHOLD
        assert not any(a.rule == "consumer_lag_critical" for _, a in reader.seen)

        while consumer.poll(1.0) is not None:  # catch up, commit
            pass
        consumer.commit(asynchronous=False)
        _, cleared = reader.wait_for(lambda a: a.rule == "consumer_lag_warning" and a.resolved
                                     and a.labels["group"] == group, timeout=30)
        assert cleared.labels["partition"] in {"0", "1", "2"}
    finally:
        consumer.close()
        reader.close()
