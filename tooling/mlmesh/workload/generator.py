"""A deterministic (seeded) workload: ordinary users and bursty bot/fraud users.

Ground truth is known by construction: bot users act in bursts, log in often,
buy expensive items, and write spammy documents; each user gets one delayed
``Label`` (FRAUD = 1.0 for bots, 0.0 otherwise). Documents carry e-mail
addresses, phone numbers and sometimes card numbers, so PII redaction has work
to do. ``drift=True`` shifts ordinary users' amounts and action mix, for drift
tests.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

from google.protobuf.timestamp_pb2 import Timestamp

from mlmesh.events.v1 import document_pb2, label_pb2, user_event_pb2

Kind = Literal["user_event", "document", "label"]
Msg = user_event_pb2.UserEvent | document_pb2.Document | label_pb2.Label

A = user_event_pb2
ORDINARY_ACTIONS = [A.ACTION_VIEW, A.ACTION_CLICK, A.ACTION_SEARCH, A.ACTION_ADD_TO_CART,
                    A.ACTION_PURCHASE, A.ACTION_LOGIN, A.ACTION_LOGOUT]
ORDINARY_WEIGHTS = [50, 25, 12, 6, 3, 2, 2]
DRIFT_WEIGHTS = [30, 20, 10, 15, 15, 5, 5]
BOT_ACTIONS = [A.ACTION_LOGIN, A.ACTION_PURCHASE, A.ACTION_ADD_TO_CART, A.ACTION_VIEW]
BOT_WEIGHTS = [30, 30, 20, 20]
DEVICES = [A.DEVICE_WEB, A.DEVICE_IOS, A.DEVICE_ANDROID]

TOPICS: dict[Kind, str] = {"user_event": "user_events", "document": "documents",
                           "label": "labels"}

_FIRST = ["alex", "sam", "kim", "lee", "jo", "max", "ana", "raj", "mei", "tom", "eva", "ola"]
_TOPICS = ["my order arrived late", "the checkout page keeps failing",
           "I love the new recommendations", "please update my shipping address",
           "refund for the broken headphones", "the app logs me out every hour",
           "great support experience today", "search results are not relevant",
           "how do I change my password", "the discount code did not apply"]
_SPAM = ["limited offer click now", "verify your account immediately",
         "cheap gift cards wholesale", "transfer funds to this account"]


@dataclass(frozen=True)
class WorkloadConfig:
    users: int = 100
    events: int = 10_000
    bot_fraction: float = 0.1
    # Documents per event (0.05 = one document every 20 events on average).
    doc_ratio: float = 0.05
    # Event-time span the workload covers, in seconds, ending at ``end_ms``.
    span_s: float = 600.0
    end_ms: int | None = None
    labels: bool = True
    # Seconds after a user's last event that their label becomes known.
    label_delay_s: float = 30.0
    drift: bool = False
    seed: int = 42
    user_prefix: str = "u"


@dataclass
class Record:
    kind: Kind
    msg: Msg
    key: str
    topic: str = field(default="")

    def __post_init__(self) -> None:
        if not self.topic:
            self.topic = TOPICS[self.kind]


@dataclass
class UserProfile:
    user_id: str
    is_bot: bool
    device: int
    last_event_ms: int = 0
    session: str = ""


def _ts(ms: int) -> Timestamp:
    ts = Timestamp()
    ts.FromMilliseconds(ms)
    return ts


class Workload:
    def __init__(self, config: WorkloadConfig) -> None:
        self.config = config
        self.rng = random.Random(config.seed)
        n_bots = max(1, round(config.users * config.bot_fraction)) if config.bot_fraction else 0
        self.users = [
            UserProfile(user_id=f"{config.user_prefix}{i:05d}", is_bot=i < n_bots,
                        device=self.rng.choice(DEVICES))
            for i in range(config.users)
        ]
        self.rng.shuffle(self.users)

    @property
    def bots(self) -> set[str]:
        return {u.user_id for u in self.users if u.is_bot}

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def records(self) -> Iterator[Record]:
        """Events (and documents) in event-time order, then the labels."""
        cfg = self.config
        import time

        end_ms = cfg.end_ms if cfg.end_ms is not None else int(time.time() * 1000)
        start_ms = end_ms - int(cfg.span_s * 1000)
        # Bots get ~5x the share of events of an ordinary user.
        weights = [5.0 if u.is_bot else 1.0 for u in self.users]
        step = (end_ms - start_ms) / max(cfg.events, 1)
        for i in range(cfg.events):
            t_ms = int(start_ms + i * step)
            user = self.rng.choices(self.users, weights)[0]
            yield Record("user_event", self._event(user, t_ms), user.user_id)
            if cfg.doc_ratio and self.rng.random() < cfg.doc_ratio:
                yield Record("document", self._document(user, t_ms), user.user_id)
        if cfg.labels:
            for user in self.users:
                if user.last_event_ms:
                    yield Record("label", self._label(user), user.user_id)

    def _event(self, user: UserProfile, t_ms: int) -> user_event_pb2.UserEvent:
        cfg, rng = self.config, self.rng
        if user.is_bot:
            action = rng.choices(BOT_ACTIONS, BOT_WEIGHTS)[0]
            amount = round(rng.uniform(200, 2000), 2) if action == A.ACTION_PURCHASE else 0.0
        else:
            action = rng.choices(ORDINARY_ACTIONS,
                                 DRIFT_WEIGHTS if cfg.drift else ORDINARY_WEIGHTS)[0]
            scale = 3.0 if cfg.drift else 1.0
            amount = (round(rng.lognormvariate(3.0, 0.8) * scale, 2)
                      if action == A.ACTION_PURCHASE else 0.0)
        if not user.session or t_ms - user.last_event_ms > 30 * 60_000:
            user.session = self._uuid()
        user.last_event_ms = t_ms
        return user_event_pb2.UserEvent(
            event_id=self._uuid(), user_id=user.user_id, event_time=_ts(t_ms), action=action,
            amount=amount, item_id=f"item-{rng.randrange(5000):04d}", session_id=user.session,
            device=user.device,  # type: ignore[arg-type]
        )

    def _document(self, user: UserProfile, t_ms: int) -> document_pb2.Document:
        rng = self.rng
        name = rng.choice(_FIRST)
        if user.is_bot:
            body = f"{rng.choice(_SPAM)}! contact {name}{rng.randrange(99)}@mail.example.com"
        else:
            body = rng.choice(_TOPICS)
        parts = [f"Hi, {body}."]
        if rng.random() < 0.5:
            parts.append(f"You can reach me at {name}.{rng.randrange(1000)}@example.org")
        if rng.random() < 0.4:
            parts.append(f"or call +1 415-555-{rng.randrange(10000):04d}")
        if rng.random() < 0.1:
            parts.append("my card is 4111 1111 1111 1111")
        if rng.random() < 0.2:  # a long document, so chunking has work to do
            parts.extend(rng.choice(_TOPICS) + "." for _ in range(rng.randrange(40, 120)))
        return document_pb2.Document(
            doc_id=self._uuid(), user_id=user.user_id, text=" ".join(parts),
            source=rng.choice(["support_ticket", "review", "chat"]), created_at=_ts(t_ms),
        )

    def _label(self, user: UserProfile) -> label_pb2.Label:
        observed = user.last_event_ms + int(self.config.label_delay_s * 1000)
        return label_pb2.Label(
            label_id=self._uuid(), user_id=user.user_id, kind=label_pb2.LABEL_KIND_FRAUD,
            value=1.0 if user.is_bot else 0.0, label_time=_ts(user.last_event_ms),
            observed_at=_ts(observed),
        )
