"""docker-compose.yml: valid for the compose CLI, health-gated dependencies, the
mesh's environment on every service, hardened service containers, a GPU profile."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]
MESH = ("ingest", "feature-writer", "embedder", "inference", "monitor")
SHARED_ENV = (
    "MLMESH_KAFKA_BOOTSTRAP",
    "MLMESH_MILVUS_URI",
    "MLMESH_TRITON_GRPC",
    "MLMESH_FEAST_ONLINE",
    "MLMESH_REDIS_URL",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_SERVICE_NAME",
)


def compose() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return doc


def image_has_healthcheck(service: dict[str, Any]) -> bool:
    build = service.get("build")
    if not build:
        return False
    text = (ROOT / build.get("dockerfile", "Dockerfile")).read_text()
    target = build.get("target")
    if target:
        m = re.search(rf"FROM \S+ AS {re.escape(target)}\n(.*?)(?=\nFROM |\Z)", text, re.S)
        assert m, f"target {target} not found"
        text = m.group(1)
    return "HEALTHCHECK" in text


def test_compose_cli_validates() -> None:
    for cmd in (["docker-compose"], ["docker", "compose"]):
        if shutil.which(cmd[0]) is None:
            continue
        out = subprocess.run(
            [*cmd, "config", "-q"], cwd=ROOT, capture_output=True, text=True, timeout=60
        )
        if cmd == ["docker", "compose"] and "unknown" in out.stderr:
            continue  # a docker CLI without the compose plugin
        assert out.returncode == 0, out.stderr
        return
    pytest.skip("no compose CLI: run `make setup-deploy` (Debian package docker-compose)")


def test_depends_on_are_gated_and_targets_can_report_health() -> None:
    services = compose()["services"]
    for name, svc in services.items():
        deps = svc.get("depends_on", {})
        assert isinstance(deps, dict), f"{name}: depends_on must use conditions"
        for dep, cond in deps.items():
            assert dep in services, f"{name} depends on unknown {dep}"
            condition = cond["condition"]
            if condition == "service_healthy":
                target = services[dep]
                assert "healthcheck" in target or image_has_healthcheck(target), (
                    f"{name} waits for {dep} healthy, but {dep} has no healthcheck"
                )
            elif condition == "service_completed_successfully":
                assert services[dep].get("restart") == "no", f"{dep} is a one-shot"
            else:
                raise AssertionError(f"{name} -> {dep}: ungated dependency ({condition})")


def test_mesh_services_get_the_shared_environment_and_are_hardened() -> None:
    services = compose()["services"]
    for name in MESH:
        svc = services[name]
        env = svc["environment"]
        for var in SHARED_ENV:
            assert env.get(var), f"{name}: {var} missing"
        assert env["MLMESH_BIND_ALL"] == "1", f"{name}: must listen beyond loopback"
        assert env["MLMESH_AUTH"] == "${MLMESH_AUTH:-1}", f"{name}: API keys on by default"
        assert svc["read_only"] is True, name
        assert "/tmp" in svc["tmpfs"], name
        assert svc["cap_drop"] == ["ALL"], name
        assert any(d == "topic-init" for d in svc["depends_on"]), f"{name}: topics first"


def test_infrastructure_is_real_and_pinned() -> None:
    """Official images by default, each replaceable by a variable (the
    equivalents `make images` builds where no registry answers)."""
    services = compose()["services"]
    expect = {
        "kafka": (r"^\$\{MLMESH_KAFKA_IMAGE:-apache/kafka:4\.1\.\d+\}$", "docker/kafka.Dockerfile"),
        "milvus": (r"^\$\{MLMESH_MILVUS_IMAGE:-milvusdb/milvus:v2\.5\.\d+\}$",
                   "docker/milvus.Dockerfile"),
        "redis": (r"^\$\{MLMESH_REDIS_IMAGE:-redis:7\.\d+\.\d+\}$", "docker/redis.Dockerfile"),
        "otel-collector": (r"^otel/opentelemetry-collector-contrib:\d+\.\d+\.\d+$", None),
        "prometheus": (r"^prom/prometheus:v\d+\.\d+\.\d+$", None),
        "grafana": (r"^grafana/grafana:\d+\.\d+\.\d+$", None),
    }
    for name, (rx, local) in expect.items():
        assert re.match(rx, services[name]["image"]), f"{name}: {services[name]['image']}"
        if local:
            assert (ROOT / local).exists(), local
    assert services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert services["kafka"]["environment"]["KAFKA_LOG_DIRS"] == "/var/lib/kafka/data"
    assert "nvcr.io/nvidia/tritonserver" in (ROOT / "docker" / "triton.Dockerfile").read_text()
    assert services["triton"]["build"]["dockerfile"] == "docker/triton-cpu.Dockerfile"
    job = services["features-job"]
    assert job["build"]["target"] == "local"
    assert any(v.endswith(":/var/lib/mlmesh/features/checkpoints") for v in job["volumes"])


def test_observability_is_a_profile() -> None:
    """The mesh runs without the collector, Prometheus and Grafana (images a
    machine without registry access cannot have); `--profile observability`
    adds them."""
    services = compose()["services"]
    for name in ("otel-collector", "prometheus", "grafana"):
        assert services[name]["profiles"] == ["observability"], name
    for name in MESH:
        assert "otel-collector" not in services[name].get("depends_on", {}), name


def test_gpu_profile_reserves_a_gpu_and_cpu_is_default() -> None:
    services = compose()["services"]
    assert "profiles" not in services["triton"]
    assert "deploy" not in services["triton"]
    gpu = services["triton-gpu"]
    assert gpu["profiles"] == ["gpu"]
    devices = gpu["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["capabilities"] == ["gpu"] and devices[0]["driver"] == "nvidia"


def test_mounted_config_files_exist() -> None:
    for name, svc in compose()["services"].items():
        for vol in svc.get("volumes", []):
            src = vol.split(":")[0]
            if src.startswith("./") and not src.startswith("./.mlmesh"):
                if src == "./services/features/feature_repo":
                    continue  # the features area creates it; docker makes it otherwise
                assert (ROOT / src).exists(), f"{name}: {src} missing"


def test_prometheus_scrapes_every_mesh_service() -> None:
    prom = yaml.safe_load((ROOT / "deploy" / "compose" / "prometheus.yml").read_text())
    targets = {
        t for job in prom["scrape_configs"] for sc in job["static_configs"] for t in sc["targets"]
    }
    for name in MESH:
        assert f"{name}:9464" in targets, name
        env = compose()["services"][name]["environment"]
        assert "9464" in [v for k, v in env.items() if k.endswith("_METRICS_PORT")], name


def test_grafana_dashboard_uses_the_provisioned_datasource() -> None:
    import json

    grafana = ROOT / "deploy" / "compose" / "grafana"
    ds = yaml.safe_load((grafana / "provisioning" / "datasources" / "prometheus.yaml").read_text())
    uids = {d["uid"] for d in ds["datasources"]}
    provider = yaml.safe_load((grafana / "provisioning" / "dashboards" / "mlmesh.yaml").read_text())
    mount = {v.split(":")[1]: v.split(":")[0] for v in compose()["services"]["grafana"]["volumes"]}
    dash_dir = ROOT / mount[provider["providers"][0]["options"]["path"]]
    dashboards = list(dash_dir.glob("*.json"))
    assert dashboards
    for path in dashboards:
        dash = json.loads(path.read_text())
        assert dash["panels"], path
        for panel in dash["panels"]:
            assert panel["datasource"]["uid"] in uids, panel["title"]
            assert all(t["expr"] for t in panel["targets"]), panel["title"]


def test_host_ports_are_the_local_stack_defaults() -> None:
    """`mlmesh predict` and the other clients reach a compose stack on their defaults."""
    from mlmesh.common import ports

    services = compose()["services"]
    host = {name: {int(p.split(":")[0]) for p in svc.get("ports", [])}
            for name, svc in services.items()}
    assert ports.INGEST_GRPC in host["ingest"] and ports.INGEST_HTTP in host["ingest"]
    assert ports.INFERENCE_GRPC in host["inference"]
    assert ports.MONITOR_HTTP in host["monitor"]
    assert ports.KAFKA in host["kafka"]


def cluster_env() -> dict[str, str]:
    from mlmesh.testing.compose import profile_env

    return profile_env("cluster")


def test_cluster_profile_is_the_local_cluster_profile_in_containers() -> None:
    """deploy/compose/cluster.env + `profiles: [cluster]`: three KRaft voters at
    RF 3 / min ISR 2, the Flink session cluster (features-job as JobManager, two
    TaskManagers) at parallelism 2, a second replica of each scaled service, on
    the ports `mlmesh up --profile cluster` uses."""
    from mlmesh.localstack.kafka_cluster import MIN_INSYNC, REPLICATION_FACTOR, default_node_ports
    from mlmesh.localstack.replicas import REPLICA_PORT_STEP

    env = cluster_env()
    assert env["COMPOSE_PROFILES"] == "cluster"
    assert env["MLMESH_KAFKA_REPLICATION_FACTOR"] == str(REPLICATION_FACTOR)
    assert env["MLMESH_KAFKA_MIN_INSYNC_REPLICAS"] == str(MIN_INSYNC)
    assert env["MLMESH_FEATURES_CLUSTER_ROLE"] == "jobmanager"
    assert env["MLMESH_FEATURES_PARALLELISM"] == "2"
    text = (ROOT / "docker-compose.yml").read_text()
    for var in env:
        if var != "COMPOSE_PROFILES":
            assert "${" + var + ":-" in text, f"{var} is not used by docker-compose.yml"

    services = compose()["services"]
    voters = env["MLMESH_KAFKA_VOTERS"].split(",")
    brokers = ["kafka", "kafka-2", "kafka-3"]
    assert [v.split("@")[1] for v in voters] == [f"{b}:9093" for b in brokers]
    for n, (name, (host_port, _ctl)) in enumerate(zip(brokers, default_node_ports(), strict=True)):
        kafka = services[name]["environment"]
        assert kafka["KAFKA_NODE_ID"] == n + 1
        assert f"EXTERNAL://localhost:{host_port}" in kafka["KAFKA_ADVERTISED_LISTENERS"]
        assert services[name]["ports"] == [f"{host_port}:19092"]
        assert kafka["KAFKA_UNCLEAN_LEADER_ELECTION_ENABLE"] == "false"
        assert (name == "kafka") == ("profiles" not in services[name])
    for n in (1, 2):
        tm = services[f"features-taskmanager-{n}"]
        assert tm["profiles"] == ["cluster"] and tm["hostname"] == f"features-taskmanager-{n}"
        assert tm["environment"]["MLMESH_FEATURES_CLUSTER_ROLE"] == "taskmanager"
        assert tm["volumes"] == services["features-job"]["volumes"], "one checkpoint volume"
    for name in ("ingest", "feature-writer", "embedder", "inference", "monitor"):
        base, replica = services[name], services[f"{name}-2"]
        assert replica["profiles"] == ["cluster"] and "profiles" not in base
        assert replica["environment"] == base["environment"], name
        assert replica["image"] == base["image"], name
        moved = {f"{int(p.split(':')[0]) + REPLICA_PORT_STEP}:{p.split(':', 1)[1]}"
                 for p in base.get("ports", [])}
        assert set(replica.get("ports", [])) == moved, name


def test_cluster_profile_validates() -> None:
    import os

    if shutil.which("docker-compose") is None:
        pytest.skip("no docker-compose: run `make setup-deploy`")
    out = subprocess.run(["docker-compose", "config", "--services"], cwd=ROOT,
                         capture_output=True, text=True, timeout=60,
                         env={**os.environ, **cluster_env()})
    assert out.returncode == 0, out.stderr
    services = set(out.stdout.split())
    assert {"kafka-2", "kafka-3", "features-taskmanager-2", "inference-2"} <= services
