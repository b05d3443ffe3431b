"""A comma-separated list of replicas is one channel balanced round-robin."""

from __future__ import annotations

from concurrent import futures

import grpc
import pytest

from mlmesh.tls import channel_target, open_channel


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
    assert opts == [("grpc.lb_policy_name", "round_robin")]
    assert channel_target("[::1]:1,[::1]:2")[0] == "ipv6:[::1]:1,[::1]:2"
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
