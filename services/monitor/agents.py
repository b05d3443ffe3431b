"""faust agents: one per source topic family. Each takes batches of raw
records, groups them by (topic, partition, window), and folds every group
into its aggregate record with ONE table write (one changelog record)."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

import faust
from google.protobuf.message import DecodeError

from mlmesh.events.v1 import (
    dead_letter_pb2,
    embedding_written_pb2,
    feature_update_pb2,
    label_pb2,
    prediction_made_pb2,
    user_event_pb2,
)
from mlmesh.kafka.config import producer_config
from mlmesh.kafka.dlq import dead_letter as make_dead_letter
from mlmesh.kafka.dlq import dlq_topic
from mlmesh.kafka.producer import MeshProducer
from monitor.idlog import position
from monitor.metrics import records as rec
from monitor.settings import DATA_TOPICS
from monitor.state import Monitor, window_of

log = logging.getLogger(__name__)

SOURCE_KINDS = ("user_events", "feature_updates", "predictions", "embeddings_written", "labels")
Apply = Callable[[Monitor, rec.Record, str, int, int, float, bytes], None]


def _ms(ts: Any) -> float:
    return float(ts.seconds) * 1000.0 + float(ts.nanos) / 1e6


def _duplicate(mon: Monitor, kind: str, rid: str, part: int, offset: int, ts: float) -> bool:
    """True for a second record carrying an id already seen at another position."""
    if not rid:
        return False
    key = f"{kind}:{rid}"
    pos = position(part, offset)
    prev = mon.seen.first_seen(key, pos, f"{kind}|{part}", ts)
    if prev is None:
        return False
    if prev != pos:
        mon.runtime.duplicates[kind] = mon.runtime.duplicates.get(kind, 0) + 1
        return True
    return False


def _prediction(mon: Monitor, r: rec.Record, topic: str, part: int, off: int, ts: float,
                value: bytes) -> None:
    m = prediction_made_pb2.PredictionMade.FromString(value)
    if _duplicate(mon, "predictions", m.request_id, part, off, ts):
        return
    rec.apply_prediction(r, model_version=m.model_version, latency_ms=m.latency_ms,
                         error=m.error, cache_hit=m.cache_hit, route=m.route, score=m.score,
                         features=dict(m.features), feature_age_ms=m.feature_age_ms,
                         degraded=m.degraded, cpu_ms=m.cpu_ms)
    if not m.error and m.user_id:
        mon.last_pred.put(m.user_id, [m.score, m.model_version or "unknown"],
                           f"{topic}|{part}", off, ts)


def _embedding(mon: Monitor, r: rec.Record, topic: str, part: int, off: int, ts: float,
               value: bytes) -> None:
    m = embedding_written_pb2.EmbeddingWritten.FromString(value)
    if _duplicate(mon, "embeddings", m.doc_id, part, off, ts):
        return
    rec.apply_embedding(r, mon_params(mon), model_version=m.model_version,
                        doc_to_searchable_ms=m.doc_to_searchable_ms, model_ms=m.model_ms,
                        chunk_count=m.chunk_count)


def _feature(mon: Monitor, r: rec.Record, topic: str, part: int, off: int, ts: float,
             value: bytes) -> None:
    m = feature_update_pb2.FeatureUpdate.FromString(value)
    rec.apply_feature_update(r, mon_params(mon), arrival_ms=ts * 1000.0,
                             max_event_ms=_ms(m.max_event_time), window_end_ms=_ms(m.window_end),
                             feature_view=m.feature_view)


def _label(mon: Monitor, r: rec.Record, topic: str, part: int, off: int, ts: float,
           value: bytes) -> None:
    m = label_pb2.Label.FromString(value)
    if _duplicate(mon, "labels", m.label_id, part, off, ts):
        return
    found = mon.last_pred.get(m.user_id, ts)
    pred = (float(found[0]), str(found[1])) if found else None
    rec.apply_label(r, mon_params(mon), prediction=pred, label=m.value)


def _user_event(mon: Monitor, r: rec.Record, topic: str, part: int, off: int, ts: float,
                value: bytes) -> None:
    m = user_event_pb2.UserEvent.FromString(value)
    rec.apply_user_event(r, event_ms=_ms(m.event_time), ingest_ms=_ms(m.ingest_time))


def _dead_letter(mon: Monitor, r: rec.Record, topic: str, part: int, off: int, ts: float,
                 value: bytes) -> None:
    m = dead_letter_pb2.DeadLetter.FromString(value)
    name = topic[len(mon.settings.topic_prefix):]
    rec.apply_dead_letter(r, topic=name, service=m.service, error_class=m.error_class)


# Topics no other service consumes: the monitor dead-letters their bad records
# (elsewhere the consuming service does, and a second dead letter would double up).
SOLE_CONSUMER = ("predictions", "labels")


def dead_letter(mon: Monitor, topic: str, part: int, offset: int, value: bytes,
                exc: Exception) -> None:
    producer = getattr(mon, "_dlq_producer", None)
    if producer is None:
        producer = MeshProducer(producer_config(mon.settings.kafka_bootstrap, "monitor-dlq",
                                                extra=mon.settings.kafka_extra()))
        mon._dlq_producer = producer  # type: ignore[attr-defined]
    record = make_dead_letter(original=value, key=None, source_topic=topic, partition=part,
                              offset=offset, error_class="decode",
                              reason=f"{type(exc).__name__}: {exc}", service="monitor")
    producer.produce(dlq_topic(topic), record.SerializeToString())


APPLY: dict[str, Apply] = {
    "predictions": _prediction, "embeddings_written": _embedding,
    "feature_updates": _feature, "labels": _label, "user_events": _user_event,
    "dlq": _dead_letter,
}


def mon_params(mon: Monitor) -> rec.Params:
    s = mon.settings
    return rec.Params(freshness_target_ms=s.freshness_target_ms,
                      accuracy_threshold=s.accuracy_threshold, embedder_device=s.embedder_device)


def process_batch(mon: Monitor, kind: str, events: Sequence[Any]) -> int:
    """Fold a batch of faust events into the aggregate table; returns how many
    were applied (replays below a record's watermark are skipped)."""
    apply = APPLY[kind]
    size = mon.settings.window_s
    groups: dict[tuple[str, int, tuple[float, float]], list[tuple[int, float, bytes]]]
    groups = defaultdict(list)
    for ev in events:
        msg = ev.message
        groups[(msg.topic, msg.partition, window_of(msg.timestamp, size))].append(
            (msg.offset, msg.timestamp, ev.value))
    applied = 0
    rt = mon.runtime
    for (topic, part, window), items in groups.items():
        key = (f"{topic}|{part}", window)
        raw = mon.agg_table.data.get(key)
        live = rec.hydrate(raw) if raw else {}
        wm = first_wm = int(live.get("wm", -1))
        for offset, ts, value in items:
            # one batch can hold an offset twice (faust seeks back after a
            # rebalance while earlier deliveries still sit in the agent's
            # buffer): the watermark moves with each record, never backwards
            if offset <= wm:
                rt.replayed[kind] = rt.replayed.get(kind, 0) + 1
                continue
            wm = offset
            try:
                apply(mon, live, topic, part, offset, ts, value or b"")
            except (DecodeError, ValueError) as exc:
                live["bad"] = live.get("bad", 0) + 1
                log.warning("undecodable record", extra={"topic": topic, "partition": part,
                                                        "offset": offset, "error": str(exc)})
                if kind in SOLE_CONSUMER:
                    dead_letter(mon, topic, part, offset, value or b"", exc)
            applied += 1
        if wm > first_wm:
            live["wm"] = wm
            mon.agg_table[key] = rec.dehydrate(live)
            rt.dirty.add((kind, window[0], window[1]))
    mon.seen.flush()
    mon.last_pred.flush()
    rt.processed[kind] = rt.processed.get(kind, 0) + applied
    return applied


def register(app: faust.App, mon: Monitor) -> None:
    s = mon.settings

    def make(kind: str) -> Callable[[Any], Any]:
        async def agent(stream: Any) -> None:
            async for events in stream.take_events(s.batch_max, within=s.batch_within_s):
                process_batch(mon, kind, events)
        agent.__name__ = f"monitor_{kind}"
        agent.__qualname__ = agent.__name__
        return agent

    for kind in SOURCE_KINDS:
        topic = app.topic(s.topic(kind), key_serializer="raw", value_serializer="raw")
        app.agent(topic, name=f"monitor_{kind}")(make(kind))
    dlq = app.topic(*[s.topic(f"{t}.dlq") for t in DATA_TOPICS], key_serializer="raw",
                    value_serializer="raw")
    app.agent(dlq, name="monitor_dlq")(make("dlq"))
