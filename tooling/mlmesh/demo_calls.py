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
    try:  # the baseline: a user with no events gets every feature defaulted
        resp = stub.Predict(ipb.PredictRequest(user_id="zz-newcomer", request_id="demo-new"),
                            timeout=5, metadata=md)
        answers.append({"call": "PredictUnknown", "user": "zz-newcomer",
                        "score": round(resp.score, 4), "degraded": list(resp.degraded_reasons)})
    except grpc.RpcError as exc:
        answers.append({"call": "PredictUnknown", "user": "zz-newcomer",
                        "error": f"{exc.code().name}: {exc.details()}"})
    channel.close()
    return lat, answers


def search(settings: ClientSettings, users: list[str],
           docs_by_user: dict[str, list[tuple[str, str]]]) -> list[dict[str, Any]]:
    """Search for up to three users who have documents, each with words of one
    of their own documents (hits: their own chunks), then one cross-user Search:
    a user without documents asks with another user's words, and gets nothing,
    by design (a user's Search sees only that user's chunks)."""
    from mlmesh.inference.v1 import inference_service_pb2 as ipb
    from mlmesh.inference.v1 import inference_service_pb2_grpc as igrpc

    md = settings.metadata() or None
    owners = [u for u in users if docs_by_user.get(u)][:3]
    others = [u for u in users if not docs_by_user.get(u)]
    asks = [(u, _query(docs_by_user[u][0][1]), False) for u in owners]
    if owners and others:
        asks.append((others[0], _query(docs_by_user[owners[0]][0][1]), True))
    answers: list[dict[str, Any]] = []
    with settings.channel(settings.inference_grpc) as channel:
        stub = igrpc.InferenceServiceStub(channel)
        for user, query, cross in asks:
            try:
                found = stub.Search(ipb.SearchRequest(user_id=user, query=query, k=3),
                                    timeout=10, metadata=md)
            except grpc.RpcError as exc:
                answers.append({"call": "Search", "user": user,
                                "error": f"{exc.code().name}: {exc.details()}"})
                continue
            mine = {doc_id for doc_id, _ in docs_by_user.get(user, [])}
            hits = [{"chunk": c.chunk_id, "similarity": round(c.similarity, 3),
                     "text": c.text[:70]} for c in found.chunks]
            answers.append({"call": "Search", "user": user, "query": query, "cross_user": cross,
                            "hits": hits, "own_chunks": bool(hits) and all(
                                h["chunk"].split(":")[0] in mine for h in hits)})
    return answers


def _query(text: str) -> str:
    """Up to six words of a document's first sentence, after its greeting."""
    first = text.replace("!", ".").split(".")[0]
    words = [w.strip(",;:?") for w in first.split()]
    words = [w for w in words if w.isalpha()]
    return " ".join(words[1:7] if len(words) > 2 else words) or text[:40]


def sample_users(records: list[Record]) -> list[str]:
    """Users who have events *and* documents first (up to four, across the
    range of activity), then the least and the most active of the others:
    their scores differ where their activity does, and Search has their own
    chunks to find."""
    counts = Counter(r.key for r in records if r.kind == "user_event")
    with_docs = {r.key for r in records if r.kind == "document"}
    ranked = sorted(counts, key=lambda u: (counts[u], u))
    both = [u for u in ranked if u in with_docs]
    rest = [u for u in ranked if u not in with_docs]
    picks = [both[i * (len(both) - 1) // 3] for i in range(4)] if both else []
    picks += [rest[0], rest[-1]] if rest else []
    return list(dict.fromkeys(picks))


def documents_by_user(records: list[Record], accepted: set[str]
                      ) -> dict[str, list[tuple[str, str]]]:
    """user -> (doc_id, text) of their acknowledged documents, in order."""
    out: dict[str, list[tuple[str, str]]] = {}
    for r in records:
        doc = r.msg
        if r.kind == "document" and doc.doc_id in accepted:  # type: ignore[union-attr]
            out.setdefault(r.key, []).append((doc.doc_id, doc.text))  # type: ignore[union-attr]
    return out


def show_answers(console: Console, answers: list[dict[str, Any]]) -> None:
    """Predict for users with events (and documents), their present features
    with ages, then Search: own chunks, and the cross-user ask."""
    for a in [a for a in answers if a.get("call") == "Predict"][:6]:
        feats = ", ".join(f"{k}={v:g}" for k, v in list(a["features"].items())[:8])
        flag = f" [red]degraded {a['degraded']}[/red]" if a["degraded"] else ""
        console.print(f"Predict {a['user']}: score {a['score']} ({a['model']}), features "
                      f"{a['features_age_ms'] / 1000:.1f} s old{flag}\n  {feats}")
    for a in [a for a in answers if a.get("call") == "PredictUnknown"]:
        console.print(f"Predict for a user never seen: score {a['score']} (every feature "
                      "defaulted, marked degraded): the baseline the others differ from")
    for a in [a for a in answers if a.get("call") == "Search"]:
        if "error" in a:
            console.print(f"Search {a['user']}: [red]{a['error']}[/red]")
        elif a.get("cross_user"):
            console.print(f"Search {a['user']} (no documents) with another user's words "
                          f"\"{a['query']}\": {len(a['hits'])} hits; by design, a user's "
                          "Search sees only that user's chunks")
        else:
            whose = "all their own chunks" if a["own_chunks"] else "[red]NOT their own[/red]"
            console.print(f"Search {a['user']} \"{a['query']}\": {len(a['hits'])} hits, {whose}")
            for h in a["hits"]:
                console.print(f"  {h['similarity']:.3f}  {h['text']}")
