"""Ingest serves mutual TLS on gRPC and HTTP when given a certificate, its key
and a client CA (#28), with the local CA `mlmesh up --tls` makes: a client with
a certificate that CA signed publishes; plaintext, or TLS without a client
certificate, is refused on both doors."""

from __future__ import annotations

import ssl
from datetime import datetime, timezone

import grpc
import httpx
import pytest

from mlmesh.devtls import ensure_dev_tls
from mlmesh.events.v1 import user_event_pb2
from mlmesh.ingest.v1 import ingest_service_pb2 as pb
from mlmesh.ingest.v1 import ingest_service_pb2_grpc as pb_grpc
from mlmesh.tls import ClientTls, open_channel


def _event(event_id: str) -> user_event_pb2.UserEvent:
    msg = user_event_pb2.UserEvent(event_id=event_id, user_id="tls-user",
                                   action=user_event_pb2.ACTION_VIEW)
    msg.event_time.GetCurrentTime()
    return msg


def test_mutual_tls_on_grpc_and_http(ingest_factory, tmp_path):
    server, client = ensure_dev_tls(tmp_path)
    ing = ingest_factory(partitions=1, tls_cert=server.cert, tls_key=server.key,
                         tls_client_ca=server.client_ca)
    address = ing.settings.grpc_address
    with open_channel(address, client) as channel:
        ok = pb_grpc.IngestServiceStub(channel).Publish(
            pb.PublishRequest(events=[_event("t1")]), timeout=10)
    assert ok.accepted == 1
    for tls in (None, ClientTls(client.ca)):  # plaintext; TLS without a client certificate
        with open_channel(address, tls) as channel, pytest.raises(grpc.RpcError) as refused:
            pb_grpc.IngestServiceStub(channel).Publish(
                pb.PublishRequest(events=[_event("t2")]), timeout=5)
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE

    url = f"https://localhost:{ing.app.http.port}/v1/events"
    body = [{"event_id": "h1", "user_id": "tls-user", "action": "ACTION_VIEW",
             "event_time": datetime.now(timezone.utc).isoformat()}]
    r = httpx.post(url, json=body, verify=client.ssl_context(), timeout=10)
    assert r.status_code == 200, r.text
    with pytest.raises((httpx.HTTPError, ssl.SSLError)):
        httpx.post(url, json=body, verify=ClientTls(client.ca).ssl_context(), timeout=5)
    with pytest.raises(httpx.HTTPError):
        httpx.post(url.replace("https", "http"), json=body, timeout=5)
