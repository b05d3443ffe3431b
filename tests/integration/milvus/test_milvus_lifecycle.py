"""MilvusComponent: start is idempotent, status tells the truth, data survives a
restart, stop leaves nothing running."""

from __future__ import annotations

from pathlib import Path

from pymilvus import MilvusClient

from mlmesh.localstack.base import free_port, pid_alive, port_open
from mlmesh.localstack.milvus import MilvusComponent


def test_restart_keeps_data_and_stop_is_clean(tmp_path: Path) -> None:
    comp = MilvusComponent(tmp_path, port=free_port(), name="milvus-lifecycle")
    comp.start(timeout=90)
    try:
        pid = comp.status().pid
        comp.start()  # already healthy: left alone
        assert comp.status().pid == pid and comp.status().healthy
        client = MilvusClient(uri=comp.uri)
        client.create_collection("keep", dimension=4)
        client.insert("keep", [{"id": 1, "vector": [0.1, 0.2, 0.3, 0.4]}])
        client.flush("keep")
        client.close()
        comp.stop()
        assert pid is not None and not pid_alive(pid) and not port_open(comp.port)
        assert not comp.status().running
        comp.start(timeout=90)
        client = MilvusClient(uri=comp.uri)
        rows = client.query("keep", filter="id >= 0", output_fields=["id"])
        client.close()
        assert [r["id"] for r in rows] == [1]
    finally:
        comp.stop()
    assert not comp.status().running
