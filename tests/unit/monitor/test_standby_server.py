"""What a monitor replica answers before it holds the lease (monitor.lease):
503 while it joins the group, /healthz 200 "standby" once another replica
holds the lease, never the dashboard; the port is free again afterwards."""

from __future__ import annotations

import json
import socket
from urllib.error import HTTPError
from urllib.request import urlopen

import pytest

from mlmesh.localstack.base import free_port
from monitor.lease import Lease, StandbyServer

pytestmark = pytest.mark.unit


def get(url: str) -> tuple[int, dict[str, object]]:
    try:
        with urlopen(url, timeout=5) as resp:
            return resp.status, json.loads(resp.read())
    except HTTPError as err:
        return err.code, json.loads(err.read())


def test_standby_answers_health_only_once_another_replica_holds_the_lease() -> None:
    lease = Lease("127.0.0.1:1", {}, "t.monitor-lease", "mon-lease", 6.0)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with StandbyServer("127.0.0.1", port, lease):
        assert get(base + "/healthz")[0] == 503  # still joining: not up yet
        lease._assigned(None, [])  # type: ignore[arg-type]  # joined, nothing assigned
        status, body = get(base + "/healthz")
        assert status == 200 and body["role"] == "standby" and body["lease_group"] == "mon-lease"
        assert get(base + "/api/summary")[0] == 503
    with socket.socket() as s:  # released for the active dashboard (aiohttp reuses the
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # address, as here)
        s.bind(("127.0.0.1", port))
        s.listen()


def test_an_assignment_makes_it_active_and_a_revocation_stops_it() -> None:
    lost: list[bool] = []
    lease = Lease("127.0.0.1:1", {}, "t.monitor-lease", "mon-lease", 6.0,
                  on_lost=lambda: lost.append(True))
    from confluent_kafka import TopicPartition

    part = [TopicPartition("t.monitor-lease", 0)]
    lease._assigned(None, part)  # type: ignore[arg-type]
    assert lease.held.is_set() and not lease.standing_by
    lease._revoked(None, [])  # type: ignore[arg-type]  # another partition set moved
    assert lease.held.is_set() and not lost
    lease._revoked(None, part)  # type: ignore[arg-type]
    assert not lease.held.is_set() and lost == [True]


def test_giving_the_lease_back_on_close_is_not_a_loss() -> None:
    """close() revokes the assignment (librdkafka calls the rebalance callback
    on close): that must not fire on_lost, which would SIGTERM the process
    again while it stops (check-wheels saw exit -15)."""
    from confluent_kafka import TopicPartition

    lost: list[bool] = []
    lease = Lease("127.0.0.1:1", {}, "t.monitor-lease", "mon-lease", 6.0,
                  on_lost=lambda: lost.append(True))
    part = [TopicPartition("t.monitor-lease", 0)]
    lease._assigned(None, part)  # type: ignore[arg-type]
    lease._stop.set()  # what close() does before the consumer closes
    lease._revoked(None, part)  # type: ignore[arg-type]
    assert not lost and not lease.held.is_set()
