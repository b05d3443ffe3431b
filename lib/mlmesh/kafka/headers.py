"""W3C trace context (traceparent/tracestate) carried in Kafka headers."""

from __future__ import annotations

from collections.abc import Sequence

from opentelemetry import context as otel_context
from opentelemetry import propagate
from opentelemetry.propagators.textmap import Getter, Setter

Headers = list[tuple[str, bytes]]


class _Setter(Setter[Headers]):
    def set(self, carrier: Headers, key: str, value: str) -> None:
        carrier[:] = [(k, v) for k, v in carrier if k != key]
        carrier.append((key, value.encode()))


class _Getter(Getter[Sequence[tuple[str, bytes | str | None]]]):
    def get(self, carrier: Sequence[tuple[str, bytes | str | None]], key: str) -> list[str] | None:
        for k, v in carrier:
            if k == key and v is not None:
                return [v.decode(errors="replace") if isinstance(v, bytes) else v]
        return None

    def keys(self, carrier: Sequence[tuple[str, bytes | str | None]]) -> list[str]:
        return [k for k, _ in carrier]


def inject(headers: Headers | None = None, ctx: otel_context.Context | None = None) -> Headers:
    """Return ``headers`` with the current (or given) trace context added."""
    out: Headers = list(headers or [])
    propagate.inject(out, context=ctx, setter=_Setter())
    return out


def extract(headers: Sequence[tuple[str, bytes | str | None]] | None) -> otel_context.Context:
    """The trace context a message carries (an empty context when none)."""
    return propagate.extract(list(headers or []), getter=_Getter())


def header(headers: Sequence[tuple[str, bytes | str | None]] | None, key: str) -> str | None:
    for k, v in headers or []:
        if k == key and v is not None:
            return v.decode(errors="replace") if isinstance(v, bytes) else v
    return None
