"""A PredictionMade the broker never acknowledged is counted and logged with
its request id (it is not awaited on the request path), and the producer's
delivery timeout follows the setting."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from inference.emitter import PredictionEmitter


class _Producer:
    def __init__(self) -> None:
        self.produced: list[dict[str, Any]] = []

    def produce(self, topic: str, value: bytes, **kw: Any) -> None:
        self.produced.append({"topic": topic, "value": value, **kw})

    def poll(self, _t: float) -> int:
        return 0

    def take_errors(self) -> list[Any]:
        return []

    def flush(self, _t: float) -> int:
        return 0


class _Err:
    def name(self) -> str:
        return "_MSG_TIMED_OUT"


class _Msg:
    def headers(self) -> list[tuple[str, bytes]]:
        return [("traceparent", b"00-x"), ("request_id", b"req-7")]


def test_undelivered_record_is_counted_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    failures: list[int] = []
    emitter = PredictionEmitter("unused:1", "predictions", producer=_Producer(),  # type: ignore[arg-type]
                                on_failure=lambda: failures.append(1))
    try:
        with caplog.at_level(logging.ERROR, logger="inference.emitter"):
            emitter._delivered(_Err(), _Msg())  # type: ignore[arg-type]
    finally:
        emitter.close(0.1)
    assert emitter.failed == 1 and failures == [1]
    rec = next(r for r in caplog.records if r.getMessage() == "PredictionMade not delivered")
    assert rec.__dict__["request_id"] == "req-7"
    assert rec.__dict__["error"] == "_MSG_TIMED_OUT"


def test_delivery_timeout_reaches_the_producer(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    class Recording(_Producer):
        def __init__(self, conf: dict[str, Any]) -> None:
            super().__init__()
            seen.update(conf)

    monkeypatch.setattr("inference.emitter.MeshProducer", Recording)
    PredictionEmitter("127.0.0.1:1", "predictions", delivery_timeout_s=300.0).close(0.1)
    assert seen["message.timeout.ms"] == 300_000
