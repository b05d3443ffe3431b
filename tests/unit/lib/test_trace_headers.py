"""W3C trace context survives a trip through Kafka headers."""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from mlmesh.kafka.headers import extract, inject


def test_traceparent_round_trip():
    tracer = TracerProvider().get_tracer("t")
    with tracer.start_as_current_span("produce") as span:
        headers = inject([("other", b"x")])
        sent = span.get_span_context()
    assert ("other", b"x") in headers
    tp = dict(headers)["traceparent"].decode()
    assert tp.startswith("00-") and f"{sent.trace_id:032x}" in tp
    ctx = extract(headers)
    got = trace.get_current_span(ctx).get_span_context()
    assert got.trace_id == sent.trace_id and got.span_id == sent.span_id


def test_no_headers_means_no_parent():
    ctx = extract(None)
    assert not trace.get_current_span(ctx).get_span_context().is_valid
