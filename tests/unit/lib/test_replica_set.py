"""The cluster profile's replicas: names, ports and addresses, before anything starts."""

from __future__ import annotations

from pathlib import Path

from mlmesh.localstack.mesh import embedder_factory, inference_factory, ingest_factory
from mlmesh.localstack.replicas import ReplicaSet, moved
from mlmesh.localstack.stack import StackContext


def test_moved_shifts_the_port_of_any_address_form() -> None:
    assert moved("127.0.0.1:18051", 100) == "127.0.0.1:18151"
    assert moved("http://127.0.0.1:19100/metrics", 100) == "http://127.0.0.1:19200/metrics"
    assert moved("http://127.0.0.1:18080", 7) == "http://127.0.0.1:18087"
    assert moved("127.0.0.1:18051", 0) == "127.0.0.1:18051"


def test_single_profile_has_one_replica_and_cluster_two(tmp_path: Path) -> None:
    single = StackContext(state_dir=tmp_path, env={"MLMESH_STACK_PROFILE": "single"})
    cluster = StackContext(state_dir=tmp_path, env={"MLMESH_STACK_PROFILE": "cluster"})
    three = StackContext(state_dir=tmp_path, env={"MLMESH_STACK_PROFILE": "single",
                                                  "MLMESH_STACK_REPLICAS": "3"})
    assert (single.replicas, cluster.replicas, three.replicas) == (1, 2, 3)
    assert not isinstance(ingest_factory(single), ReplicaSet)
    rs = ingest_factory(cluster)
    assert isinstance(rs, ReplicaSet)
    assert [r.name for r in rs.replicas] == ["ingest", "ingest-2"]
    assert rs.addresses["grpc-2"] == "127.0.0.1:18151"
    assert rs.addresses["grpcs"] == "127.0.0.1:18051,127.0.0.1:18151"
    assert rs.replicas[1].env["MLMESH_INGEST_HTTP_ADDRESS"] == "127.0.0.1:18180"
    assert rs.replicas[1].env["MLMESH_INGEST_METRICS_PORT"] == "19200"
    inf = inference_factory(cluster)
    assert isinstance(inf, ReplicaSet)
    assert inf.addresses["grpcs"] == "127.0.0.1:18052,127.0.0.1:18152"
    emb = embedder_factory(three)
    assert isinstance(emb, ReplicaSet) and len(emb.replicas) == 3
    assert "grpcs" not in emb.addresses  # HTTP only: nothing to balance over


def test_status_of_stopped_replicas(tmp_path: Path) -> None:
    cluster = StackContext(state_dir=tmp_path, env={"MLMESH_STACK_PROFILE": "cluster"})
    st = ingest_factory(cluster).status()
    assert not st.running and not st.healthy and st.pid is None
    assert st.detail == "0/2 replicas serving"
    assert [r["name"] for r in st.replicas] == ["ingest", "ingest-2"]


def test_the_replica_count_of_up_is_what_down_and_status_use(tmp_path: Path) -> None:
    """`MLMESH_STACK_REPLICAS=3 mlmesh up`, then `mlmesh down` without it: the
    third replica is found (the count is kept in the state dir)."""
    from mlmesh.localstack.stack import select_profile, up

    select_profile("cluster", tmp_path)
    up_ctx = StackContext(state_dir=tmp_path, env={"MLMESH_STACK_PROFILE": "cluster",
                                                   "MLMESH_STACK_REPLICAS": "3"})
    assert up(components=[], ctx=up_ctx) == []  # records the count, starts nothing
    later = StackContext(state_dir=tmp_path, env={"MLMESH_STACK_PROFILE": "cluster"})
    assert later.replicas == 3
    rs = ingest_factory(later)
    assert isinstance(rs, ReplicaSet) and rs.replicas[-1].name == "ingest-3"
    select_profile("single", tmp_path)  # another profile: its own default again
    assert StackContext(state_dir=tmp_path, env={}).replicas == 1
