"""Inference service latency and throughput against its own dependencies.

Real servers for the run: tritonserver (embedding + a risk_scorer version),
milvus-lite server (doc_chunks with every user's chunks), a Kafka broker
(PredictionMade is produced as in production), a local Feast repo (sqlite online
store, features pushed for every user), and ``python -m inference`` as its own
process. A multi-process closed-loop gRPC client measures, at several
concurrencies:

* ``predict``       Predict without text (features + scoring);
* ``predict_text``  Predict with text (+ query embedding + filtered search);
* ``triton_score``  baseline: the direct Triton call of the same model version;
* ``feast_read``    baseline: a direct Feast online read (the same feature service);
* ``grpc_hop``      context: the service's own gRPC health Check - the round trip
  any call to a Python gRPC server pays here before it does any work.

The service runs ``--workers`` processes on its port (default 2, one per core
of this machine: ``MLMESH_INFERENCE_WORKERS``); ``predict`` is also measured
against a one-process service first (``predict_one_process``, context: what
the second process buys). The exact cache is off (every request pays the full
path). Overhead =
p50(predict) / (p50(feast_read) + p50(triton_score)) at the same concurrency;
p50(predict) / (p50(feast_read) + p50(triton_score) + p50(grpc_hop)) says how
much of it is the service's own work rather than the hop itself.

    python -m bench.inference [--seconds 5] [--users 200] [--workers 2]
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing as mp
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import broker, percentiles, ratio, write

log = logging.getLogger("bench.inference")
ROOT = Path(__file__).resolve().parents[1]
TEXTS = ["my order arrived late", "the checkout page keeps failing",
         "refund for the broken headphones", "the app logs me out every hour",
         "please update my shipping address", "search results are not relevant"]


# ---------------------------------------------------------------- clients
def _client(kind: str, target: dict[str, str], users: list[str], barrier: Any,
            seconds: float, out: Any) -> None:
    import numpy as np

    call: Any
    stages: dict[str, list[float]] = {}
    if kind in ("predict", "predict_text"):
        import grpc

        from mlmesh.inference.v1 import inference_service_pb2 as pb
        from mlmesh.inference.v1 import inference_service_pb2_grpc as pb_grpc
        from mlmesh.tls import ClientTls, open_channel

        tls = ClientTls(Path(target["tls_ca"]), Path(target["tls_cert"]),
                        Path(target["tls_key"])) if target.get("tls_ca") else None
        md = [("x-api-key", target["api_key"])] if target.get("api_key") else None
        stub = pb_grpc.InferenceServiceStub(open_channel(target["inference"], tls))
        with_text = kind == "predict_text"

        def call(i: int) -> None:
            resp = stub.Predict(pb.PredictRequest(
                user_id=users[i % len(users)], text=TEXTS[i % len(TEXTS)] if with_text else ""),
                timeout=5, metadata=md)
            for s in resp.latency:
                stages.setdefault(s.stage, []).append(s.ms)
    elif kind == "grpc_hop":
        import grpc
        from grpc_health.v1 import health_pb2, health_pb2_grpc

        health = health_pb2_grpc.HealthStub(grpc.insecure_channel(target["inference"]))

        def call(i: int) -> None:
            health.Check(health_pb2.HealthCheckRequest(service=""), timeout=5)
    elif kind == "triton_score":
        from inference.triton import TritonGateway

        gw = TritonGateway(target["triton"], "risk_scorer", "minilm_embedding")
        row = [list(np.random.default_rng(0).uniform(0, 10, 22))]

        def call(i: int) -> None:
            gw.score(target["version"], row, 5.0)
    else:
        from feast import FeatureStore

        from inference.features import FeastOnlineReader

        reader = FeastOnlineReader(FeatureStore(repo_path=str(target["feast_repo"])),
                                   "risk_scoring_v1")

        def call(i: int) -> None:
            reader.read(users[i % len(users)])

    for i in range(20):  # warm-up
        call(i)
    barrier.wait()  # every client warmed up: measure together
    lat: list[float] = []
    errors = 0
    end = time.time() + seconds
    i = os.getpid()
    while time.time() < end:
        t = time.perf_counter()
        try:
            call(i)
            lat.append((time.perf_counter() - t) * 1000)
        except Exception:  # counted, the loop goes on
            errors += 1
        i += 1
    out.put((lat, errors, stages))


def measure(kind: str, target: dict[str, str], users: list[str], concurrency: int,
            seconds: float) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    barrier = ctx.Barrier(concurrency + 1)
    procs = [ctx.Process(target=_client, args=(kind, target, users, barrier, seconds, q))
             for _ in range(concurrency)]
    for p in procs:
        p.start()
    barrier.wait(timeout=300)
    lat: list[float] = []
    errors = 0
    stages: dict[str, list[float]] = {}
    for _ in procs:
        part, err, st = q.get(timeout=seconds + 180)
        lat += part
        errors += err
        for k, v in st.items():
            stages.setdefault(k, []).extend(v)
    for p in procs:
        p.join(30)
    pct = percentiles(lat)
    row = {"kind": kind, "concurrency": concurrency, "requests": len(lat), "errors": errors,
           "throughput_rps": round(len(lat) / seconds, 1),
           **{k: round(v, 3) for k, v in pct.items()}}
    if stages:  # the server's own per-stage view (PredictResponse.latency)
        row["server_stages_ms"] = {k: {p: round(x, 3) for p, x in percentiles(v).items()}
                                   for k, v in stages.items()}
    log.info("measured %s", row)
    return row


# ---------------------------------------------------------------- set-up
def _scorer_onnx() -> bytes:
    import numpy as np
    from sklearn.ensemble import GradientBoostingClassifier

    from inference.training.model import to_onnx

    rng = np.random.default_rng(0)
    x = rng.uniform(0, 50, size=(2000, 22)).astype(np.float32)
    y = ((x[:, 0] + rng.normal(0, 5, 2000)) > 25).astype(int)
    clf = GradientBoostingClassifier(n_estimators=80, max_depth=3).fit(x, y)
    return to_onnx(clf, 22)


def setup(state: Path, users: list[str]) -> dict[str, Any]:
    import numpy as np

    from embedder.store import ChunkStore, StoreConfig
    from inference.training.registry import publish
    from mlmesh.embedding import TritonEmbedder
    from mlmesh.embedding.client import DEFAULT_VERSION
    from mlmesh.localstack.base import free_port
    from mlmesh.localstack.milvus import MilvusComponent
    from mlmesh.localstack.triton import TritonComponent
    from mlmesh.workload.feast_repo import make_feast_repo, push_online

    models = Path(os.environ.get("MLMESH_STATE_DIR", ROOT / ".mlmesh")).resolve() / "models"
    (state / "models").symlink_to(models, target_is_directory=True)
    publish(state / "triton" / "model_repository", _scorer_onnx(), {"note": "bench"}, 1)
    triton = TritonComponent(state, http_port=free_port(), grpc_port=free_port(),
                             metrics_port=free_port(),
                             models=("minilm_embedding", "risk_scorer"), name="triton-bench")
    triton.start(timeout=180)
    milvus = MilvusComponent(state, port=free_port(), name="milvus-bench")
    milvus.start(timeout=90)
    store = make_feast_repo(state / "feast")
    rng = np.random.default_rng(1)
    for u in users:
        push_online(store, u, {"event_count_5m": int(rng.integers(0, 50)),
                               "amount_sum_5m": float(rng.uniform(0, 500)),
                               "login_count_5m": int(rng.integers(0, 5))})
    chunks = ChunkStore(StoreConfig(uri=milvus.uri))
    chunks.ensure()
    emb = TritonEmbedder(triton.grpc_url, version=DEFAULT_VERSION)
    vecs = emb.embed(TEXTS)
    emb.close()
    now = int(time.time() * 1000)
    rows = [{"chunk_id": f"{u}-d:{j}@{DEFAULT_VERSION}", "user_id": u, "doc_id": f"{u}-d",
             "chunk_index": j,
             "text": TEXTS[j], "source": "chat", "model_name": "minilm_embedding",
             "model_version": DEFAULT_VERSION, "text_hash": str(j), "created_at_ms": now,
             "embedded_at_ms": now, "vector": vecs[j].tolist()}
            for u in users for j in range(len(TEXTS))]
    chunks.upsert(rows)
    return {"triton": triton, "milvus": milvus, "feast_repo": state / "feast"}


def start_service(state: Path, deps: dict[str, Any], kafka: str, workers: int,
                  extra_env: dict[str, str] | None = None, tls: Any = None
                  ) -> tuple[Any, str]:
    """``python -m inference``; ``extra_env`` on top (auth, TLS), ``tls`` the
    client TLS its health probe uses."""
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    from mlmesh.kafka.topics import ensure_topics, load_topics
    from mlmesh.localstack.base import free_port
    from mlmesh.localstack.service import source_pythonpath
    from mlmesh.tls import open_channel

    # the mesh's topics: predictions, and the rollout log every replica follows
    # (empty here: the newest loaded version serves)
    ensure_topics(kafka, load_topics())

    port = free_port()
    env = {**os.environ, "PYTHONPATH": source_pythonpath(os.environ.get("PYTHONPATH")),
           "MLMESH_STATE_DIR": str(state), "MLMESH_KAFKA_BOOTSTRAP": kafka,
           "MLMESH_MILVUS_URI": deps["milvus"].uri, "MLMESH_TRITON_GRPC":
           deps["triton"].grpc_url, "MLMESH_FEAST_REPO": str(deps["feast_repo"]),
           "MLMESH_INFERENCE_GRPC_PORT": str(port), "MLMESH_INFERENCE_METRICS_PORT": "0",
           "MLMESH_INFERENCE_WORKERS": str(workers),
           "MLMESH_INFERENCE_CACHE_SIZE": "0", "MLMESH_INFERENCE_WATCH_ALERTS": "false",
           "MLMESH_LOG_LEVEL": "WARNING", **(extra_env or {})}
    log_file = open(state / "inference.log", "ab")  # noqa: SIM115 - handed to the child
    proc = subprocess.Popen([sys.executable, "-m", "inference"], env=env, cwd=ROOT,
                            stdout=log_file, stderr=subprocess.STDOUT)
    addr = f"{'localhost' if tls else '127.0.0.1'}:{port}"

    def probe() -> bool:
        with open_channel(addr, tls) as channel:
            resp = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(),
                                                             timeout=2)
        return bool(resp.status == health_pb2.HealthCheckResponse.SERVING)

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"inference exited: {(state / 'inference.log').read_text()[-2000:]}")
        try:
            if probe():
                time.sleep(2.0 if workers > 1 else 0.0)  # the other workers bind too
                return proc, addr
        except Exception:  # still starting
            pass
        time.sleep(0.5)
    proc.terminate()
    raise TimeoutError("inference never became SERVING")


def _stop(proc: Any) -> None:
    proc.terminate()  # SIGTERM: the first worker forwards it to the others
    proc.wait(60)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--concurrency", default="1,4,8")
    parser.add_argument("--workers", type=int, default=2,
                        help="service processes (MLMESH_INFERENCE_WORKERS) for the main rows")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    users = [f"bench-{i:04d}" for i in range(args.users)]
    levels = [int(c) for c in args.concurrency.split(",")]
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="mlmesh-bench-inference-") as tmp, \
            broker() as kafka:
        state = Path(tmp)
        deps = setup(state, users)
        proc = None
        try:
            base = {"triton": deps["triton"].grpc_url, "version": "1",
                    "feast_repo": str(deps["feast_repo"])}
            proc, addr = start_service(state, deps, kafka, 1)
            for c in levels:
                row = measure("predict", {**base, "inference": addr}, users, c, args.seconds)
                rows.append({**row, "kind": "predict_one_process", "workers": 1})
            _stop(proc)
            proc, addr = start_service(state, deps, kafka, args.workers)
            target = {**base, "inference": addr}
            for c in levels:
                for kind in ("feast_read", "triton_score", "grpc_hop", "predict"):
                    rows.append(measure(kind, target, users, c, args.seconds))
            for c in levels[:2]:
                rows.append(measure("predict_text", target, users, c, args.seconds))
            for row in rows:
                if row["kind"] in ("predict", "predict_text"):
                    row["workers"] = args.workers
        finally:
            if proc is not None:
                _stop(proc)
            deps["milvus"].stop()
            deps["triton"].stop()
    return report(rows, levels, args.workers)


def report(rows: list[dict[str, Any]], levels: list[int], workers: int) -> int:
    def get(kind: str, c: int) -> dict[str, Any]:
        return next(r for r in rows if r["kind"] == kind and r["concurrency"] == c)

    ratios = []
    for c in levels:
        p, f, t = get("predict", c), get("feast_read", c), get("triton_score", c)
        ratios.append(ratio(f"predict_p50_vs_feast_plus_triton_c{c}", p["p50"],
                            f["p50"] + t["p50"], 1.25, "ms", higher_is_better=False,
                            note="service overhead target <= 25% over the sum of baselines"))
    for c in levels:
        p, f, t, h = (get(k, c) for k in ("predict", "feast_read", "triton_score", "grpc_hop"))
        ratios.append(ratio(f"predict_p50_vs_feast_plus_triton_plus_grpc_hop_c{c}", p["p50"],
                            f["p50"] + t["p50"] + h["p50"], None, "ms", higher_is_better=False,
                            note="context: the hop is the floor of any Python gRPC service"))
    for c in levels:
        ratios.append(ratio(f"predict_throughput_c{c}_{workers}_workers_vs_one_process",
                            get("predict", c)["throughput_rps"],
                            get("predict_one_process", c)["throughput_rps"], None, "req/s",
                            note="context: the service's processes on one port (SO_REUSEPORT)"))
    ratios.append(ratio("predict_no_text_p99_c1", get("predict", 1)["p99"], 15.0, 1.0, "ms",
                        higher_is_better=False, note="target p99 <= 15 ms (baseline = target)"))
    text_c = levels[1] if len(levels) > 1 else levels[0]
    ratios.append(ratio(f"predict_text_p99_c{text_c}", get("predict_text", text_c)["p99"],
                        50.0, 1.0, "ms", higher_is_better=False,
                        note="target p99 <= 50 ms at moderate load (baseline = target)"))
    latency = {f"{r['kind']}_c{r['concurrency']}": {k: r[k] for k in ("p50", "p95", "p99")}
               for r in rows}
    path = write("inference", {"rows": rows, "ratios": ratios, "latency_ms": latency,
                               "service_workers": workers,
                               "notes": "closed-loop clients, one process per concurrency "
                               "unit; clients and servers share the machine's CPUs"})
    log.info("wrote %s", path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
