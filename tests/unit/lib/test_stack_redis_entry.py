"""Redis joins the local stack exactly when it is the configured online store,
and listens where MLMESH_REDIS_URL says."""

from __future__ import annotations

from pathlib import Path

from mlmesh.localstack import stack
from mlmesh.localstack.redis import RedisComponent


def entry() -> stack.ComponentEntry:
    return next(e for e in stack.entries() if e.name == "redis")


def test_redis_runs_only_for_the_redis_online_store() -> None:
    assert not entry().enabled(stack.StackContext(env={}))
    assert not entry().enabled(stack.StackContext(env={"MLMESH_FEAST_ONLINE": "sqlite"}))
    assert entry().enabled(stack.StackContext(env={"MLMESH_FEAST_ONLINE": "Redis"}))
    forced_off = {"MLMESH_FEAST_ONLINE": "redis", "MLMESH_STACK_REDIS": "0"}
    assert not entry().enabled(stack.StackContext(env=forced_off))


def test_redis_starts_before_the_services(tmp_path: Path) -> None:
    names = [e.name for e in stack.entries()]
    assert names.index("redis") < names.index("feature-writer") < names.index("inference")
    comp = entry().build(stack.StackContext(
        state_dir=tmp_path, env={"MLMESH_REDIS_URL": "redis://127.0.0.1:16400/0"}))
    assert isinstance(comp, RedisComponent) and comp.url == "redis://127.0.0.1:16400/0"
    assert not comp.status().running
