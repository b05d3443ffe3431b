"""MLMESH_STACK_KAFKA_SASL=1: the broker gets a SASL_SSL listener, and every
service of the local stack, the Flink job included, is given only that
listener's address and the typed Kafka security variables; the launcher keeps
the plain one."""

from __future__ import annotations

from pathlib import Path

from mlmesh.common import ports
from mlmesh.localstack import kafka_sasl
from mlmesh.localstack.mesh import features_job_factory, ingest_factory
from mlmesh.localstack.stack import StackContext, kafka_factory


def test_services_and_the_flink_job_get_only_the_sasl_listener(tmp_path: Path) -> None:
    ctx = StackContext(state_dir=tmp_path, env={"MLMESH_STACK_KAFKA_SASL": "1"})
    sl = kafka_sasl.listener(ctx)
    assert sl.bootstrap == f"localhost:{ports.KAFKA_SASL}"
    assert (tmp_path / "kafka-sasl" / "password").stat().st_mode & 0o777 == 0o600
    assert kafka_sasl.listener(ctx).password == sl.password  # kept across starts
    env = ctx.service_env()
    assert env["MLMESH_KAFKA_BOOTSTRAP"] == sl.bootstrap
    assert env["MLMESH_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert env["MLMESH_KAFKA_SASL_PASSWORD"] == sl.password
    assert ctx.kafka_bootstrap == f"127.0.0.1:{ports.KAFKA}"  # the launcher's own
    assert ingest_factory(ctx).env["MLMESH_KAFKA_BOOTSTRAP"] == sl.bootstrap  # type: ignore[attr-defined]
    job = features_job_factory(ctx)
    assert job.bootstrap == sl.bootstrap  # type: ignore[attr-defined]
    assert job.env["MLMESH_KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-512"  # type: ignore[attr-defined]
    props = kafka_factory(ctx).extra_properties  # type: ignore[attr-defined]
    assert f"SASL_SSL://127.0.0.1:{ports.KAFKA_SASL}" in props["listeners"]
    assert props["ssl.keystore.type"] == "PEM"


def test_off_by_default(tmp_path: Path) -> None:
    ctx = StackContext(state_dir=tmp_path, env={})
    assert not kafka_sasl.enabled(ctx)
    assert ctx.service_env()["MLMESH_KAFKA_BOOTSTRAP"] == f"127.0.0.1:{ports.KAFKA}"
    assert "MLMESH_KAFKA_SECURITY_PROTOCOL" not in ctx.service_env()
    assert not kafka_factory(ctx).extra_properties  # type: ignore[attr-defined]
