"""A comma-separated list of replicas is one channel balanced round-robin."""

from __future__ import annotations

from concurrent import futures
from pathlib import Path

import grpc
import pytest

from mlmesh.tls import REPLICA_RETRY, channel_target, open_channel


def _server(name: bytes) -> tuple[grpc.Server, int]:
    def who(_req: bytes, _ctx: grpc.ServicerContext) -> bytes:
        return name

    handler = grpc.method_handlers_generic_handler(
        "t.Who", {"Who": grpc.unary_unary_rpc_method_handler(who)})
    server = grpc.server(futures.ThreadPoolExecutor(2))
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    return server, port


def test_one_address_is_left_as_it_is() -> None:
    assert channel_target("127.0.0.1:18051") == ("127.0.0.1:18051", [])
    assert channel_target("dns:///ingest:50051") == ("dns:///ingest:50051", [])


def test_a_list_needs_ip_addresses_with_ports() -> None:
    target, opts = channel_target("127.0.0.1:1, 127.0.0.1:2")
    assert target == "ipv4:127.0.0.1:1,127.0.0.1:2"
    assert opts == [("grpc.lb_policy_name", "round_robin"),
                    ("grpc.service_config", REPLICA_RETRY),
                    ("grpc.default_authority", "127.0.0.1:1")]
    assert channel_target("[::1]:1,[::1]:2")[0] == "ipv6:[::1]:1,[::1]:2"
    assert channel_target("127.0.0.1:1,")[0] == "127.0.0.1:1"
    assert channel_target("ipv4:127.0.0.1:1,127.0.0.1:2") == ("ipv4:127.0.0.1:1,127.0.0.1:2", [])
    with pytest.raises(ValueError, match=r"\[ip\]:port"):
        channel_target("::1:5,::1:6")
    with pytest.raises(ValueError, match="dns:///"):
        channel_target("ingest-0:50051,ingest-1:50051")
    with pytest.raises(ValueError, match="no port"):
        channel_target("127.0.0.1:1,127.0.0.1")


def test_calls_alternate_between_replicas_and_skip_a_stopped_one() -> None:
    (a, pa), (b, pb) = _server(b"a"), _server(b"b")
    channel = open_channel(f"127.0.0.1:{pa},127.0.0.1:{pb}", None)
    call = channel.unary_unary("/t.Who/Who")
    try:
        grpc.channel_ready_future(channel).result(timeout=10)
        answers = [call(b"", timeout=5, wait_for_ready=True) for _ in range(20)]
        assert answers.count(b"a") >= 5 and answers.count(b"b") >= 5, answers
        a.stop(None).wait()
        after = [call(b"", timeout=5, wait_for_ready=True) for _ in range(10)]
        assert after == [b"b"] * 10
    finally:
        channel.close()
        a.stop(None)
        b.stop(None)


def test_tls_through_a_replica_list(tmp_path: Path) -> None:
    """The certificate is checked against one replica's authority, not the list."""
    from mlmesh.devtls import ensure_dev_tls

    server_tls, client_tls = ensure_dev_tls(tmp_path)
    servers = []
    for name in (b"a", b"b"):
        def who(_req: bytes, _ctx: grpc.ServicerContext, name: bytes = name) -> bytes:
            return name

        server = grpc.server(futures.ThreadPoolExecutor(2))
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(
            "t.Who", {"Who": grpc.unary_unary_rpc_method_handler(who)}),))
        port = server.add_secure_port("127.0.0.1:0", server_tls.grpc_credentials())
        server.start()
        servers.append((server, port))
    channel = open_channel(",".join(f"127.0.0.1:{p}" for _s, p in servers), client_tls)
    try:
        call = channel.unary_unary("/t.Who/Who")
        answers = {call(b"", timeout=10, wait_for_ready=True) for _ in range(10)}
        assert answers == {b"a", b"b"}
    finally:
        channel.close()
        for server, _p in servers:
            server.stop(None)
