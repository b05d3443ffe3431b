"""The demo's calls: Predict for users across the range of activity, Search,
and how their answers are shown."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import grpc
from rich.console import Console

from mlmesh.client_settings import ClientSettings
from mlmesh.workload.generator import Record


def ask(settings: ClientSettings, users: list[str], calls: int) -> tuple[list[float],
                                                                       list[dict[str, Any]]]:
    from mlmesh.inference.v1 import inference_service_pb2 as ipb
    from mlmesh.inference.v1 import inference_service_pb2_grpc as igrpc

    channel = settings.channel(settings.inference_grpc)
    stub = igrpc.InferenceServiceStub(channel)
    md = settings.metadata() or None
    lat: list[float] = []
    answers: list[dict[str, Any]] = []
    for i in range(calls):
        user = users[i % len(users)]
        t0 = time.perf_counter()
        try:
            resp = stub.Predict(ipb.PredictRequest(user_id=user, request_id=f"demo-{i}"),
                                timeout=5, metadata=md)
        except grpc.RpcError as exc:
            answers.append({"user": user, "error": f"{exc.code().name}: {exc.details()}"})
            continue
        lat.append((time.perf_counter() - t0) * 1000)
        if i < len(users) or resp.degraded_reasons:
            answers.append({"call": "Predict", "user": user, "score": round(resp.score, 4),
                            "model": f"{resp.model_name} v{resp.model_version}",
                            "degraded": list(resp.degraded_reasons),
                            "features": {f.name: f.value for f in resp.features if f.value},
                            "features_age_ms": min((f.age_ms for f in resp.features
                                                    if f.age_ms >= 0), default=-1)})
    channel.close()
    return lat, answers


def search(settings: ClientSettings, users: list[str]) -> list[dict[str, Any]]:
    from mlmesh.inference.v1 import inference_service_pb2 as ipb
    from mlmesh.inference.v1 import inference_service_pb2_grpc as igrpc

    md = settings.metadata() or None
    answers: list[dict[str, Any]] = []
    with settings.channel(settings.inference_grpc) as channel:
        stub = igrpc.InferenceServiceStub(channel)
        for user in users[:3]:
            try:
                found = stub.Search(ipb.SearchRequest(user_id=user, query="refund for my order",
                                                      k=3), timeout=10, metadata=md)
                answers.append({"call": "Search", "user": user, "hits": [
                    {"chunk": c.chunk_id, "similarity": round(c.similarity, 3), "text": c.text[:60]}
                    for c in found.chunks]})
            except grpc.RpcError as exc:
                answers.append({"call": "Search", "user": user,
                                "error": f"{exc.code().name}: {exc.details()}"})
    return answers


def sample_users(records: list[Record]) -> list[str]:
    """Users across the range of activity (the least and most active, the
    quartiles), documents' owners first among equals: their scores differ
    where their activity does."""
    counts = Counter(r.key for r in records if r.kind == "user_event")
    with_docs = {r.key for r in records if r.kind == "document"}
    ranked = sorted(counts, key=lambda u: (counts[u], u not in with_docs, u))
    n = len(ranked)
    picks = [ranked[min(n - 1, i * (n - 1) // 5)] for i in range(6)] if n else []
    return list(dict.fromkeys(picks))


def show_answers(console: Console, answers: list[dict[str, Any]]) -> None:
    """Predict for users with events (and documents), their present features
    with ages, then Search."""
    for a in [a for a in answers if a.get("call") == "Predict"][:6]:
        feats = ", ".join(f"{k}={v:g}" for k, v in list(a["features"].items())[:8])
        flag = f" [red]degraded {a['degraded']}[/red]" if a["degraded"] else ""
        console.print(f"Predict {a['user']}: score {a['score']} ({a['model']}), features "
                      f"{a['features_age_ms'] / 1000:.1f} s old{flag}\n  {feats}")
    for a in [a for a in answers if a.get("call") != "Predict"][:3]:
        console.print(a)
