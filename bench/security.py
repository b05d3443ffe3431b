"""What the front doors' security costs, each pair measured in the same run on
the same servers: Predict p50/p99 with mutual TLS and API keys (the key log
followed, the user checked against the key's scope) against plaintext without
keys; batched gRPC ingest events/s over mutual TLS against plaintext.

    python -m bench.security [--seconds 5] [--events 100000]  ->  bench/results/security.json
"""

from __future__ import annotations

import argparse
import logging
import tempfile
from pathlib import Path
from typing import Any

from bench.common import broker, ratio, write
from bench.inference import _stop, measure, setup, start_service
from bench.ingest import grpc_ingest, sample_events

log = logging.getLogger("bench.security")


def _key(kafka: str) -> str:
    from mlmesh.auth.keylog import KeyLog
    from mlmesh.auth.keys import mint
    from mlmesh.kafka.topics import TopicSpec, ensure_topics

    ensure_topics(kafka, [TopicSpec("api-keys", 1, config={"cleanup.policy": "compact"})])
    record, key = mint("bench", "bench-*")
    keys = KeyLog(kafka).start()
    try:
        keys.put(record)
    finally:
        keys.close()
    return key


def main(argv: list[str] | None = None) -> int:
    from mlmesh.devtls import ensure_dev_tls
    from mlmesh.kafka.topics import TopicSpec, ensure_topics

    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--concurrency", default="1,4")
    parser.add_argument("--events", type=int, default=100_000)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    users = [f"bench-{i:04d}" for i in range(args.users)]
    levels = [int(c) for c in args.concurrency.split(",")]
    predict: dict[str, dict[int, dict[str, Any]]] = {"plain": {}, "tls_auth": {}}
    ingest: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="mlmesh-bench-security-") as tmp, \
            broker() as kafka:
        state = Path(tmp)
        server, client = ensure_dev_tls(state)
        tls_env = {"MLMESH_TLS_CERT": str(server.cert), "MLMESH_TLS_KEY": str(server.key),
                   "MLMESH_TLS_CLIENT_CA": str(server.client_ca)}
        tls_paths = (str(client.ca), str(client.cert), str(client.key))
        key = _key(kafka)
        deps = setup(state, users)
        try:
            base = {"triton": deps["triton"].grpc_url, "version": "1",
                    "feast_repo": str(deps["feast_repo"])}
            for mode in ("plain", "tls_auth"):
                secure = mode == "tls_auth"
                proc, addr = start_service(
                    state, deps, kafka, 1,
                    extra_env={**tls_env, "MLMESH_AUTH": "1"} if secure else None,
                    tls=client if secure else None)
                try:
                    target = {**base, "inference": addr}
                    if secure:
                        target.update(tls_ca=tls_paths[0], tls_cert=tls_paths[1],
                                      tls_key=tls_paths[2], api_key=key)
                    for c in levels:
                        predict[mode][c] = measure("predict", target, users, c, args.seconds)
                finally:
                    _stop(proc)
        finally:
            deps["milvus"].stop()
            deps["triton"].stop()
        events = sample_events(args.events)
        for mode in ("plain", "tls"):
            names = {k: f"bench-sec-{mode}-{k}" for k in ("events", "documents", "labels")}
            ensure_topics(kafka, [TopicSpec(n, 6) for n in names.values()] +
                          [TopicSpec(n + ".dlq", 1) for n in names.values()])
            rate, _lat = grpc_ingest(kafka, names, events,
                                     extra_env=tls_env if mode == "tls" else None,
                                     tls=tls_paths if mode == "tls" else None)
            ingest[mode] = rate
    return report(predict, ingest, levels, args)


def report(predict: dict[str, dict[int, dict[str, Any]]], ingest: dict[str, float],
           levels: list[int], args: argparse.Namespace) -> int:
    rows = []
    ratios = []
    for c in levels:
        plain, secure = predict["plain"][c], predict["tls_auth"][c]
        for p in ("p50", "p99"):
            rows.append({"name": f"Predict {p} at concurrency {c}", "unit": "ms",
                         "plain": plain[p], "tls_auth": secure[p]})
            ratios.append(ratio(f"Predict {p} with mTLS + API keys vs plaintext, no keys, "
                                f"concurrency {c}", secure[p], plain[p], None, "ms",
                                higher_is_better=False))
        rows.append({"name": f"Predict errors at concurrency {c}", "unit": "calls",
                     "plain": plain["errors"], "tls_auth": secure["errors"]})
    ratios.append(ratio("batched gRPC ingest over mTLS vs plaintext", ingest["tls"],
                        ingest["plain"], None, "events/s"))
    path = write("security", {"rows": rows, "ratios": ratios,
                              "ingest_events_per_s": {k: round(v) for k, v in ingest.items()},
                              "params": vars(args)})
    for r in ratios:
        log.info("%s: %s vs %s (x%s)", r["name"], r["value"], r["baseline"], r["ratio"])
    log.info("-> %s", path)
    errors = sum(predict["tls_auth"][c]["errors"] for c in levels)
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
