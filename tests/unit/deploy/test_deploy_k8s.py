"""Every overlay renders, and the rendered objects are sound: known kinds,
hardened pods with probes and limits, selectors that select, HPAs bounded by
partitions, NetworkPolicy coverage, operator CRs as the operators expect them."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest

pytestmark = pytest.mark.unit

Obj = dict[str, Any]

KNOWN = {
    ("v1", "Namespace"),
    ("v1", "ConfigMap"),
    ("v1", "Secret"),
    ("v1", "Service"),
    ("v1", "ServiceAccount"),
    ("apps/v1", "Deployment"),
    ("apps/v1", "StatefulSet"),
    ("batch/v1", "Job"),
    ("autoscaling/v2", "HorizontalPodAutoscaler"),
    ("policy/v1", "PodDisruptionBudget"),
    ("networking.k8s.io/v1", "NetworkPolicy"),
    ("rbac.authorization.k8s.io/v1", "Role"),
    ("rbac.authorization.k8s.io/v1", "RoleBinding"),
    ("kafka.strimzi.io/v1beta2", "Kafka"),
    ("kafka.strimzi.io/v1beta2", "KafkaNodePool"),
    ("kafka.strimzi.io/v1beta2", "KafkaTopic"),
    ("flink.apache.org/v1beta1", "FlinkDeployment"),
    ("milvus.io/v1beta1", "Milvus"),
}
WORKLOADS = ("Deployment", "StatefulSet", "Job")
SHARED_ENV = (
    "MLMESH_KAFKA_BOOTSTRAP",
    "MLMESH_MILVUS_URI",
    "MLMESH_TRITON_GRPC",
    "MLMESH_FEAST_ONLINE",
    "MLMESH_REDIS_URL",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
)
EXTERNAL_SECRETS = {"mlmesh-object-store", "mlmesh-milvus-storage", "mlmesh-mlflow-db"}


def of(objs: tuple[Obj, ...], kind: str) -> list[Obj]:
    return [o for o in objs if o["kind"] == kind]


def one(objs: tuple[Obj, ...], kind: str, name: str) -> Obj:
    found = [o for o in of(objs, kind) if o["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} found"
    return found[0]


def pod_templates(objs: tuple[Obj, ...]) -> Iterator[tuple[str, Mapping[str, str], Obj]]:
    """(id, labels, pod spec) of every pod the render creates, including the pods
    the operators create from CRs (their documented labels)."""
    for o in objs:
        if o["kind"] in WORKLOADS:
            t = o["spec"]["template"]
            yield f"{o['kind']}/{o['metadata']['name']}", t["metadata"]["labels"], t["spec"]
    for o in of(objs, "FlinkDeployment"):
        labels = {"app": o["metadata"]["name"], **o["spec"]["podTemplate"]["metadata"]["labels"]}
        yield f"FlinkDeployment/{o['metadata']['name']}", labels, o["spec"]["podTemplate"]["spec"]
    for o in of(objs, "Kafka"):
        labels = {"strimzi.io/cluster": o["metadata"]["name"], "strimzi.io/kind": "Kafka"}
        yield f"Kafka/{o['metadata']['name']}", labels, {}
    for o in of(objs, "Milvus"):
        yield (
            "Milvus",
            {
                "app.kubernetes.io/name": "milvus",
                "app.kubernetes.io/instance": o["metadata"]["name"],
            },
            {},
        )
        yield "Milvus/etcd", {"app.kubernetes.io/name": "etcd"}, {}


def matches(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    if "matchLabels" in selector or "matchExpressions" in selector:
        assert "matchExpressions" not in selector, "matchExpressions not modelled here"
        selector = selector.get("matchLabels", {})
    return all(labels.get(k) == v for k, v in selector.items())


def partitions(objs: tuple[Obj, ...]) -> dict[str, int]:
    return {t["spec"]["topicName"]: int(t["spec"]["partitions"]) for t in of(objs, "KafkaTopic")}


# ---------------------------------------------------------------------------------


def test_base_renders(kustomize_render: Callable[[str], tuple[Obj, ...]]) -> None:
    assert of(kustomize_render("base"), "Deployment")


def test_kinds_and_api_versions_are_known(rendered: tuple[Obj, ...]) -> None:
    for o in rendered:
        assert (o["apiVersion"], o["kind"]) in KNOWN, (o["apiVersion"], o["kind"])
        assert o["metadata"]["name"]
        if o["kind"] != "Namespace":
            assert o["metadata"].get("namespace") == "mlmesh", o["metadata"]["name"]
    names = [(o["kind"], o["metadata"]["name"]) for o in rendered]
    assert len(names) == len(set(names)), "duplicate objects"


def test_pods_are_hardened_and_bounded(rendered: tuple[Obj, ...]) -> None:
    for o in rendered:
        if o["kind"] not in WORKLOADS:
            continue
        spec = o["spec"]["template"]["spec"]
        name = f"{o['kind']}/{o['metadata']['name']}"
        psc = spec["securityContext"]
        assert psc["runAsNonRoot"] is True and psc["runAsUser"] > 0, name
        assert psc["seccompProfile"]["type"] == "RuntimeDefault", name
        assert spec["automountServiceAccountToken"] is False, name
        assert spec["serviceAccountName"], name
        mounts_tmp = {v["name"] for v in spec.get("volumes", [])}
        for c in spec["containers"]:
            sc = c["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False, name
            assert sc["readOnlyRootFilesystem"] is True, name
            assert sc["capabilities"]["drop"] == ["ALL"], name
            for part in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(c["resources"][part]), f"{name}: {part}"
            assert ":" in c["image"] and not c["image"].endswith(":latest"), name
            assert any(m["mountPath"] == "/tmp" for m in c.get("volumeMounts", [])), name
            assert mounts_tmp, name
            if o["kind"] != "Job":
                assert "readinessProbe" in c and "livenessProbe" in c, f"{name}: probes"


def test_grpc_services_use_grpc_probes(rendered: tuple[Obj, ...]) -> None:
    for name, port in (("ingest", 50051), ("inference", 50052)):
        c = one(rendered, "Deployment", name)["spec"]["template"]["spec"]["containers"][0]
        assert c["readinessProbe"]["grpc"]["port"] == port
        assert c["startupProbe"]["grpc"]["port"] == port


def test_selectors_select(rendered: tuple[Obj, ...]) -> None:
    pods = list(pod_templates(rendered))
    for o in rendered:
        kind, name = o["kind"], o["metadata"]["name"]
        if kind in ("Deployment", "StatefulSet"):
            sel = o["spec"]["selector"]
            assert matches(sel, o["spec"]["template"]["metadata"]["labels"]), name
        elif kind == "Service":
            hits = [
                (pid, spec)
                for pid, labels, spec in pods
                if spec and matches(o["spec"]["selector"], labels)
            ]
            assert len(hits) == 1, f"Service/{name} selects {len(hits)} workloads"
            ports = {p["name"] for c in hits[0][1]["containers"] for p in c.get("ports", [])}
            for p in o["spec"]["ports"]:
                assert p["targetPort"] in ports, f"Service/{name}: {p['targetPort']}"
        elif kind == "PodDisruptionBudget":
            assert any(matches(o["spec"]["selector"], labels) for _, labels, _ in pods), name


def test_hpas_target_deployments_and_respect_partitions(rendered: tuple[Obj, ...],
                                                        overlay: str) -> None:
    parts = partitions(rendered)
    hpas = of(rendered, "HorizontalPodAutoscaler")
    assert {h["metadata"]["name"] for h in hpas} == {
        "ingest",
        "inference",
        "embedder",
        "feature-writer",
    }
    # the monitor: one active replica and a standby (monitor.lease), no autoscaler
    monitor = one(rendered, "Deployment", "monitor")
    assert monitor["spec"]["replicas"] == (1 if overlay == "dev" else 2)  # active + standby
    probe = monitor["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]
    assert probe["httpGet"]["path"] == "/readyz"
    for h in hpas:
        ref = h["spec"]["scaleTargetRef"]
        dep = one(rendered, ref["kind"], ref["name"])
        spec = h["spec"]
        assert 1 <= spec["minReplicas"] <= spec["maxReplicas"], h["metadata"]["name"]
        kinds = {m["type"] for m in spec["metrics"]}
        assert "Resource" in kinds and kinds & {"Pods", "External"}, h["metadata"]["name"]
        assert dep["spec"]["replicas"] == spec["minReplicas"], h["metadata"]["name"]
        consumes = dep["metadata"].get("annotations", {}).get("mlmesh.io/consumes")
        if consumes:
            assert spec["maxReplicas"] <= parts[consumes], (
                f"{ref['name']}: maxReplicas {spec['maxReplicas']} > {parts[consumes]} "
                f"partitions of {consumes}"
            )
            ext = [m for m in spec["metrics"] if m["type"] == "External"]
            assert ext[0]["external"]["metric"]["selector"]["matchLabels"]["topic"] == consumes


def test_network_policies_cover_every_pod(rendered: tuple[Obj, ...]) -> None:
    nps = of(rendered, "NetworkPolicy")
    deny = one(rendered, "NetworkPolicy", "default-deny-all")["spec"]
    assert deny["podSelector"] == {} and set(deny["policyTypes"]) == {"Ingress", "Egress"}
    assert "ingress" not in deny and "egress" not in deny
    pods = list(pod_templates(rendered))
    for np in nps:
        sel = np["spec"]["podSelector"]
        assert not sel or any(matches(sel, labels) for _, labels, _ in pods), (
            f"NetworkPolicy/{np['metadata']['name']} selects no pod"
        )
    for pid, labels, spec in pods:
        ports = [p for c in spec.get("containers", []) for p in c.get("ports", [])]
        if not ports and spec:
            continue
        allowed = [
            np
            for np in nps
            if matches(np["spec"]["podSelector"], labels) and np["spec"].get("ingress")
        ]
        assert allowed, f"{pid}: no ingress allow-list"


def test_clients_can_reach_what_they_use(rendered: tuple[Obj, ...]) -> None:
    """A pod with a role label has egress to that role's server (one policy each)."""
    nps = {np["metadata"]["name"]: np for np in of(rendered, "NetworkPolicy")}
    for policy, target in (
        ("kafka-clients-egress", {"strimzi.io/cluster": "mlmesh", "strimzi.io/kind": "Kafka"}),
        ("triton-clients-egress", {"app.kubernetes.io/name": "triton"}),
        ("feast-clients-egress", {"app.kubernetes.io/name": "redis"}),
        ("ratelimit-clients-egress", {"app.kubernetes.io/name": "redis"}),
        ("milvus-clients-egress", {"app.kubernetes.io/name": "milvus"}),
    ):
        peers = [p["podSelector"] for rule in nps[policy]["spec"]["egress"] for p in rule["to"]]
        assert any(matches(p, target) for p in peers), policy
    for name in ("ingest", "inference", "embedder", "feature-writer", "monitor"):
        labels = one(rendered, "Deployment", name)["spec"]["template"]["metadata"]["labels"]
        assert labels.get("mlmesh.io/kafka-client") == "true", name


def test_config_and_secrets(rendered: tuple[Obj, ...], overlay: str) -> None:
    env = one(rendered, "ConfigMap", "mlmesh-env")["data"]
    for var in SHARED_ENV:
        assert env[var], var
    assert env["MLMESH_AUTH"] == "1", f"{overlay}: API keys must be on"
    assert env["MLMESH_RATE_LIMIT_STORAGE"].startswith("redis://"), "limits per replica"
    for name in ("ingest", "inference"):
        labels = one(rendered, "Deployment", name)["spec"]["template"]["metadata"]["labels"]
        assert labels.get("mlmesh.io/ratelimit-client") == "true", name
    referenced: set[str] = set()
    for _, _, spec in pod_templates(rendered):
        for c in spec.get("containers", []):
            for e in c.get("env", []):
                ref = e.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    referenced.add(ref["name"])
            for ef in c.get("envFrom", []):
                if "secretRef" in ef:
                    referenced.add(ef["secretRef"]["name"])
    for m in of(rendered, "Milvus"):
        referenced.add(m["spec"]["dependencies"]["storage"]["secretRef"])
    secrets = {s["metadata"]["name"] for s in of(rendered, "Secret")}
    if overlay == "prod":
        assert not secrets, "prod must not carry Secrets: they come from the secret store"
        assert referenced == EXTERNAL_SECRETS
    else:
        assert referenced <= secrets, referenced - secrets


def test_kafka_is_kraft_with_topics_from_topics_yaml(
    rendered: tuple[Obj, ...], overlay: str, declared_topics: dict[str, Any]
) -> None:
    kafka = one(rendered, "Kafka", "mlmesh")
    assert kafka["metadata"]["annotations"]["strimzi.io/kraft"] == "enabled"
    assert kafka["metadata"]["annotations"]["strimzi.io/node-pools"] == "enabled"
    assert "zookeeper" not in kafka["spec"]
    pools = of(rendered, "KafkaNodePool")
    roles = {r for p in pools for r in p["spec"]["roles"]}
    assert roles == {"controller", "broker"}
    for p in pools:
        assert p["metadata"]["labels"]["strimzi.io/cluster"] == "mlmesh"
    declared = {t["name"] for t in declared_topics["topics"]}
    assert set(partitions(rendered)) == declared
    brokers = sum(p["spec"]["replicas"] for p in pools if "broker" in p["spec"]["roles"])
    for t in of(rendered, "KafkaTopic"):
        assert t["metadata"]["labels"]["strimzi.io/cluster"] == "mlmesh"
        assert t["spec"]["replicas"] <= brokers
    if overlay == "prod":
        assert brokers >= 3
        for t in of(rendered, "KafkaTopic"):
            assert t["spec"]["replicas"] == 3
            assert t["spec"]["config"]["min.insync.replicas"] == "2"


def test_flink_job_is_exactly_once_on_object_storage(rendered: tuple[Obj, ...]) -> None:
    fd = one(rendered, "FlinkDeployment", "features-job")["spec"]
    conf = fd["flinkConfiguration"]
    assert fd["flinkVersion"] == "v2_2"
    assert conf["execution.checkpointing.mode"] == "EXACTLY_ONCE"
    for key in (
        "execution.checkpointing.dir",
        "execution.checkpointing.savepoint-dir",
        "high-availability.storageDir",
    ):
        assert conf[key].startswith("s3://"), key
    assert fd["job"]["entryClass"] == "org.apache.flink.client.python.PythonDriver"
    assert "/opt/flink/usrlib/features_job.py" in fd["job"]["args"]
    assert fd["job"]["upgradeMode"] in ("last-state", "savepoint")
    assert fd["job"]["parallelism"] <= partitions(rendered)["user_events"]
    sc = fd["podTemplate"]["spec"]["securityContext"]
    assert sc["runAsNonRoot"] is True
    one(rendered, "ServiceAccount", fd["serviceAccount"])


def test_triton_gpu_only_outside_dev(rendered: tuple[Obj, ...], overlay: str) -> None:
    c = one(rendered, "Deployment", "triton")["spec"]["template"]["spec"]["containers"][0]
    gpus = c["resources"]["limits"].get("nvidia.com/gpu")
    if overlay == "dev":
        assert gpus is None
    else:
        assert gpus == 1
    repo = one(rendered, "ConfigMap", "mlmesh-object-store")["data"]["TRITON_MODEL_REPOSITORY"]
    assert repo.endswith("/triton/cpu" if overlay == "dev" else "/triton/gpu")


def test_milvus_mode_per_overlay(rendered: tuple[Obj, ...], overlay: str) -> None:
    m = one(rendered, "Milvus", "mlmesh")["spec"]
    if overlay == "dev":
        assert m["mode"] == "standalone"
    else:
        assert m["mode"] == "cluster"
        assert m["components"]["queryNode"]["replicas"] >= 2
        assert "standalone" not in m["components"]
        assert m["dependencies"]["msgStreamType"] == "kafka"
