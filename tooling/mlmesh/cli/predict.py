"""``mlmesh predict`` and ``mlmesh search``: call the inference service.

    mlmesh predict --user u00001 [--text "refund please"] [--json]
    mlmesh search --user u00001 "checkout fails" [--k 5] [--json]

Address: ``--addr``, else :class:`~mlmesh.client_settings.ClientSettings`
(``$MLMESH_CLIENT_INFERENCE_GRPC``, default 127.0.0.1:18052, what ``mlmesh up``
binds); API key: ``--api-key``, else ``$MLMESH_CLIENT_API_KEY`` (sent as ``x-api-key``).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from mlmesh.common import ports


def _call(args: argparse.Namespace, method: str, request: Any) -> Any:

    from mlmesh.client_settings import ClientSettings
    from mlmesh.inference.v1 import inference_service_pb2_grpc as pb_grpc

    client = ClientSettings()  # flags win over it
    addr = args.addr or client.inference_grpc
    api_key = client.key() if args.api_key is None else args.api_key
    md = [("x-api-key", api_key)] if api_key else []
    with client.channel(addr) as channel:
        stub = pb_grpc.InferenceServiceStub(channel)
        return getattr(stub, method)(request, metadata=md, timeout=args.timeout)


def _fail(exc: Exception) -> int:
    code = getattr(exc, "code", lambda: None)()
    details = getattr(exc, "details", lambda: str(exc))()
    sys.stderr.write(f"error: {code.name if code else type(exc).__name__}: {details}\n")
    return 1


def cmd_predict(args: argparse.Namespace) -> int:
    import grpc
    from google.protobuf import json_format

    from mlmesh.inference.v1 import inference_service_pb2 as pb

    try:
        resp = _call(args, "Predict", pb.PredictRequest(user_id=args.user, text=args.text or "",
                                                        k=args.k))
    except grpc.RpcError as exc:
        return _fail(exc)
    if args.json:
        sys.stdout.write(json.dumps(json_format.MessageToDict(
            resp, preserving_proto_field_name=True), indent=2) + "\n")
        return 0
    lines = [f"user {args.user}: score {resp.score:.4f}  "
             f"({resp.model_name} v{resp.model_version}, route {resp.route}"
             f"{', cached' if resp.cache_hit else ''})"]
    if resp.degraded:
        lines.append(f"  DEGRADED: {', '.join(resp.degraded_reasons)}")
    lines.append("  features:")
    for f in resp.features:
        age = "default" if f.age_ms < 0 else f"{f.age_ms / 1000:.1f}s old"
        lines.append(f"    {f.name:<28} {f.value:>12.3f}  ({age})")
    if resp.chunks:
        lines.append("  retrieved:")
        for c in resp.chunks:
            lines.append(f"    {c.similarity:.3f}  {c.chunk_id}  {c.text[:70]!r}")
    lines.append("  latency: " + "  ".join(f"{s.stage}={s.ms:.1f}ms" for s in resp.latency))
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    import grpc
    from google.protobuf import json_format

    from mlmesh.inference.v1 import inference_service_pb2 as pb

    try:
        resp = _call(args, "Search", pb.SearchRequest(user_id=args.user, query=args.query,
                                                      k=args.k, source=args.source or ""))
    except grpc.RpcError as exc:
        return _fail(exc)
    if args.json:
        sys.stdout.write(json.dumps(json_format.MessageToDict(
            resp, preserving_proto_field_name=True), indent=2) + "\n")
        return 0
    lines = [f"{len(resp.chunks)} chunk(s) of {args.user} for {args.query!r}"
             f"{' (cached)' if resp.cache_hit else ''}:"]
    for i, c in enumerate(resp.chunks, 1):
        lines.append(f"  {i:>2}. {c.similarity:.3f}  doc {c.doc_id}  {c.text[:80]!r}")
    lines.append("  latency: " + "  ".join(f"{s.stage}={s.ms:.1f}ms" for s in resp.latency))
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--user", required=True, help="user id")
    p.add_argument("--k", type=int, default=0, help="chunks to retrieve (server default 5)")
    p.add_argument("--json", action="store_true", help="print the raw response as JSON")
    p.add_argument("--addr", default=None,
                   help="inference gRPC address (default $MLMESH_CLIENT_INFERENCE_GRPC "
                   f"or 127.0.0.1:{ports.INFERENCE_GRPC})")
    p.add_argument("--api-key", default=None, help="default $MLMESH_CLIENT_API_KEY")
    p.add_argument("--timeout", type=float, default=5.0, help="deadline in seconds")


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("predict", help="score a user (features + own documents + model)")
    _common(p)
    p.add_argument("--text", default="", help="optional text: retrieves the user's chunks")
    p.set_defaults(func=cmd_predict)
    s = sub.add_parser("search", help="the user's most similar document chunks")
    _common(s)
    s.add_argument("query", help="search text")
    s.add_argument("--source", default="", help="only chunks of this document source")
    s.set_defaults(func=cmd_search)
