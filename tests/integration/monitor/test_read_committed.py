"""The monitor counts only committed data (#31): records of an aborted producer
transaction, written between committed ones on the same partition, are never
counted (read_committed on every monitor consumer)."""

from __future__ import annotations

import uuid
from typing import Any

from confluent_kafka import Producer

from monitor import synthetic as sy


def test_records_of_an_aborted_transaction_are_not_counted(monitor_factory: Any) -> None:
    mon = monitor_factory()
    topic = mon.prefix + "predictions"
    txn = Producer({"bootstrap.servers": mon.bootstrap,
                    "transactional.id": f"t-aborted-{uuid.uuid4().hex[:8]}"})
    txn.init_transactions(30)

    def batch(tag: str, n: int, commit: bool) -> None:
        txn.begin_transaction()
        for i in range(n):
            out = sy.prediction(f"{tag}-{i}", "u1")  # one key: one partition, interleaved
            txn.produce(topic, out.value, key=out.key.encode())
        if commit:
            txn.commit_transaction(30)
        else:
            txn.flush(30)  # on the broker, then thrown away
            txn.abort_transaction(30)

    batch("c1", 30, True)
    batch("ab", 50, False)
    batch("c2", 20, True)
    s = mon.wait_for(lambda s: s["processed"].get("predictions", 0) >= 50, 60,
                     "the committed predictions")
    # the aborted 50 sit between the two committed batches: read_uncommitted counts 100
    assert s["processed"]["predictions"] == 50, s["processed"]
    batch("c3", 5, True)  # later records are still read: the aborted ones were passed over
    s = mon.wait_for(lambda s: s["processed"].get("predictions", 0) >= 55, 60, "c3")
    assert s["processed"]["predictions"] == 55, s["processed"]
