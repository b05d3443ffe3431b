"""One rollout control plane for every replica (#26): the routing policy lives
in the rollout log (Kafka); two inference replicas follow one change within
seconds, concurrent writers never lose a change (compare-and-set on the log),
and the log answers which version served at a given time."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import pytest

from inference.app import build
from inference.control import PolicyLog
from inference.training.registry import versions
from mlmesh.inference.v1 import inference_service_pb2 as pb
from mlmesh.kafka.topics import TopicSpec, ensure_topics


@pytest.fixture
def rollout_topic(inference_env: Any) -> str:
    topic = f"t.model-rollout.{uuid.uuid4().hex[:8]}"
    ensure_topics(inference_env.kafka, [TopicSpec(topic, 1, config={
        "retention.ms": "-1", "cleanup.policy": "delete"})])
    return topic


def test_two_replicas_follow_one_rollout_within_seconds(inference_env: Any,
                                                        rollout_topic: str) -> None:
    settings = inference_env.settings(routing_file=None, rollout_topic=rollout_topic)
    replicas = [build(settings).start(), build(settings).start()]
    writer = PolicyLog(inference_env.kafka, rollout_topic, "risk_scorer").start()
    try:
        # an empty log: the routers keep asking their fallback (newest loaded version)
        assert writer.load() is None and writer.stamp() is None
        newest = str(versions(inference_env.triton.component.model_repository)[-1])
        assert {r.router.current().primary for r in replicas} == {newest}
        writer.update(lambda p: p.set(primary="1", canary="", canary_share=0.0, shadow=""))
        user = f"cp-{uuid.uuid4().hex[:6]}"
        stubs = [inference_env.stub(r) for r in replicas]
        changed = time.monotonic()
        writer.update(lambda p: p.set(canary="2", canary_share=1.0))
        followed = []
        for _channel, stub in stubs:
            while stub.Predict(pb.PredictRequest(user_id=user), timeout=10).model_version \
                    != "2":
                assert time.monotonic() - changed < 10, "a replica did not follow in 10 s"
                time.sleep(0.05)
            followed.append(time.monotonic() - changed)
        assert max(followed) < 5, followed
        assert {r.router.current().revision for r in replicas} == {2}
        for channel, _stub in stubs:
            channel.close()
    finally:
        writer.close()
        for r in replicas:
            r.stop(0)


def test_concurrent_writers_lose_no_change_and_history_answers_when(
        inference_env: Any, rollout_topic: str) -> None:
    writers = [PolicyLog(inference_env.kafka, rollout_topic, "risk_scorer").start()
               for _ in range(2)]
    follower = PolicyLog(inference_env.kafka, rollout_topic, "risk_scorer").start()
    try:
        writers[0].update(lambda p: p.set(primary="1"))
        marks: dict[int, int] = {}

        def bump(w: PolicyLog, n: int) -> None:
            for _ in range(n):
                # a read-modify-write that only holds when no change is lost
                w.update(lambda p: p.set(canary="2", canary_share=round(
                    p.canary_share + 0.01, 2)))

        threads = [threading.Thread(target=bump, args=(w, 10)) for w in writers]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        marks[1] = int(time.time() * 1000)
        time.sleep(0.01)
        writers[1].update(lambda p: p.promote("2"))
        follower.sync()
        final = follower.load()
        assert final is not None and final.revision == 22
        assert final.primary == "2" and final.previous == "1"
        history = follower.history()
        assert [e.policy.revision for e in history] == list(range(1, 23))
        assert history[-2].policy.canary_share == pytest.approx(0.20)
        at_mark = follower.served_at(marks[1])
        assert at_mark is not None and (at_mark.primary, at_mark.canary) == ("1", "2")
        assert follower.served_at(history[0].policy.updated_at_ms - 1) is None
    finally:
        for w in (*writers, follower):
            w.close()
