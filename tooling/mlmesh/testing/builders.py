"""Builders of valid test records (tests tweak them into invalid ones)."""

from __future__ import annotations

import time
import uuid

from google.protobuf.timestamp_pb2 import Timestamp

from mlmesh.events.v1 import user_event_pb2


def event(user: str, seq: int = 0, *, action: int = user_event_pb2.ACTION_VIEW,
          t_ms: int | None = None, amount: float = 0.0) -> user_event_pb2.UserEvent:
    ts = Timestamp()
    ts.FromMilliseconds(t_ms if t_ms is not None else int(time.time() * 1000))
    return user_event_pb2.UserEvent(event_id=uuid.uuid4().hex, user_id=user, event_time=ts,
                                    action=action, amount=amount,  # type: ignore[arg-type]
                                    attributes={"seq": str(seq)})
