"""Tenants and API keys (#28) on two live inference replicas following one key
log on the real broker: keys made with the real `mlmesh keys` CLI; a key acts
only for its tenant's users (PERMISSION_DENIED, one text, otherwise); a made-up
key is UNAUTHENTICATED; a revocation and a rotation reach both replicas within
seconds."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import grpc
import pytest

from inference.app import Service, build
from mlmesh.auth.authz import DENIED
from mlmesh.inference.v1 import inference_service_pb2 as pb
from mlmesh.testing.keys import key_topic, keys_cli


@pytest.fixture
def replicas(inference_env: Any) -> Iterator[tuple[str, list[Service]]]:
    topic = key_topic(inference_env.kafka)
    settings = inference_env.settings(auth=True, keys_topic=topic)
    started = [build(settings).start(), build(settings).start()]
    try:
        yield topic, started
    finally:
        for s in started:
            s.stop(0)


def _code(call: Callable[[], Any]) -> grpc.StatusCode:
    try:
        call()
    except grpc.RpcError as exc:
        return exc.code()  # type: ignore[no-any-return]
    return grpc.StatusCode.OK


def _everywhere(env: Any, svcs: list[Service], key: str, user: str) -> set[grpc.StatusCode]:
    codes = set()
    for svc in svcs:
        channel, stub = env.stub(svc)
        with channel:
            codes.add(_code(lambda s=stub: s.Predict(
                pb.PredictRequest(user_id=user), metadata=[("x-api-key", key)], timeout=10)))
    return codes


def _until(check: Callable[[], bool], within_s: float) -> float:
    start = time.monotonic()
    while not check():
        assert time.monotonic() - start < within_s, f"not within {within_s} s"
        time.sleep(0.05)
    return time.monotonic() - start


def test_a_key_acts_only_for_its_tenants_users_on_every_replica(
        inference_env: Any, chunks: Any, replicas: tuple[str, list[Service]]) -> None:
    topic, svcs = replicas
    acme = keys_cli(inference_env.kafka, topic, "create", "--tenant", "acme",
                    "--users", "acme-*")
    globex = keys_cli(inference_env.kafka, topic, "create", "--tenant", "globex",
                      "--users", "globex-1,globex-2")
    assert acme["key"].startswith("mlk_") and "digest" not in acme
    # the replicas follow the log: the new key works on both within seconds
    _until(lambda: _everywhere(inference_env, svcs, acme["key"], "acme-7")
           == {grpc.StatusCode.OK}, 10)
    assert _everywhere(inference_env, svcs, globex["key"], "globex-2") == {grpc.StatusCode.OK}
    for key, user in ((acme["key"], "globex-1"), (globex["key"], "acme-7"),
                      (globex["key"], "globex-3"), (acme["key"], "no-such-user")):
        assert _everywhere(inference_env, svcs, key, user) == {grpc.StatusCode.PERMISSION_DENIED}
    channel, stub = inference_env.stub(svcs[0])
    with channel:
        with pytest.raises(grpc.RpcError) as denied:
            stub.Search(pb.SearchRequest(user_id="globex-1", query="refund"),
                        metadata=[("authorization", f"Bearer {acme['key']}")], timeout=10)
        assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert denied.value.details() == DENIED
        ok = stub.Search(pb.SearchRequest(user_id="acme-7", query="refund"),
                         metadata=[("authorization", f"Bearer {acme['key']}")], timeout=10)
        assert list(ok.chunks) == []  # no documents for this user: an answer, not an error
    made_up = "mlk_" + acme["key_id"] + "_" + "A" * 43
    assert _everywhere(inference_env, svcs, made_up, "acme-7") == \
        {grpc.StatusCode.UNAUTHENTICATED}
    assert _everywhere(inference_env, svcs, "", "acme-7") == {grpc.StatusCode.UNAUTHENTICATED}
    listed = keys_cli(inference_env.kafka, topic, "list")
    assert {r["key_id"] for r in listed} == {acme["key_id"], globex["key_id"]}
    assert all("digest" not in r and "key" not in r for r in listed)


def test_revocation_and_rotation_reach_every_replica_within_seconds(
        inference_env: Any, replicas: tuple[str, list[Service]]) -> None:
    topic, svcs = replicas
    first = keys_cli(inference_env.kafka, topic, "create", "--tenant", "acme", "--users", "*")
    _until(lambda: _everywhere(inference_env, svcs, first["key"], "u1")
           == {grpc.StatusCode.OK}, 10)
    rotated = keys_cli(inference_env.kafka, topic, "rotate", "--id", first["key_id"])
    assert rotated["replaces"] == first["key_id"] and rotated["key"] != first["key"]
    took = _until(lambda: _everywhere(inference_env, svcs, first["key"], "u1")
                  == {grpc.StatusCode.UNAUTHENTICATED}, 5)
    assert _everywhere(inference_env, svcs, rotated["key"], "u1") == {grpc.StatusCode.OK}
    keys_cli(inference_env.kafka, topic, "revoke", "--id", rotated["key_id"])
    took = max(took, _until(lambda: _everywhere(inference_env, svcs, rotated["key"], "u1")
                            == {grpc.StatusCode.UNAUTHENTICATED}, 5))
    listed = {r["key_id"]: r for r in keys_cli(inference_env.kafka, topic, "list")}
    assert not listed[first["key_id"]]["active"] and not listed[rotated["key_id"]]["active"]
    assert listed[first["key_id"]]["replaced_by"] == rotated["key_id"]
