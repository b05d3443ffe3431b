"""The feature contract in one place: views, their windows and features.

Plain Python (no Feast, no Flink) so the PyFlink job (.venv-flink), the feature
writer and the Feast repository (.venv) all read the same definitions.
"""

from __future__ import annotations

from dataclasses import dataclass

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS

# UserEvent.Action numbers -> the feature-name stem of its per-action count.
ACTIONS: dict[int, str] = {
    1: "view", 2: "click", 3: "add_to_cart", 4: "purchase", 5: "search", 6: "login", 7: "logout",
}
ACTION_PURCHASE = 4


@dataclass(frozen=True)
class ViewSpec:
    """One Feast feature view: sliding window ``size_ms`` every ``slide_ms``
    (``0``/``0`` for the session view), its features and which are counts."""

    name: str
    size_ms: int
    slide_ms: int
    features: tuple[str, ...]
    float_features: tuple[str, ...] = ()

    @property
    def sliding(self) -> bool:
        return self.slide_ms > 0

    def is_count(self, feature: str) -> bool:
        return feature not in self.float_features


ACTIVITY_5M = ViewSpec(
    "user_activity_5m", 5 * MINUTE_MS, MINUTE_MS,
    ("event_count_5m", "amount_sum_5m", "amount_mean_5m", "distinct_actions_5m",
     *(f"{a}_count_5m" for a in ACTIONS.values())),
    ("amount_sum_5m", "amount_mean_5m"),
)
ACTIVITY_1H = ViewSpec(
    "user_activity_1h", HOUR_MS, 5 * MINUTE_MS,
    ("event_count_1h", "amount_sum_1h", "amount_mean_1h", "purchase_count_1h"),
    ("amount_sum_1h", "amount_mean_1h"),
)
ACTIVITY_24H = ViewSpec(
    "user_activity_24h", 24 * HOUR_MS, HOUR_MS,
    ("event_count_24h", "amount_sum_24h", "purchase_count_24h"),
    ("amount_sum_24h",),
)
SESSIONS = ViewSpec(
    "user_sessions", 24 * HOUR_MS, 0,
    ("session_count_24h", "last_session_length_s", "last_session_event_count"),
    ("last_session_length_s",),
)
DOCUMENTS_1H = ViewSpec(
    "user_documents_1h", HOUR_MS, 5 * MINUTE_MS, ("doc_count_1h",),
)

VIEWS: dict[str, ViewSpec] = {
    v.name: v for v in (ACTIVITY_5M, ACTIVITY_1H, ACTIVITY_24H, SESSIONS, DOCUMENTS_1H)
}
FEATURE_SERVICE = "risk_scoring_v1"
ENTITY = "user"
JOIN_KEY = "user_id"
# Extra columns every view row carries in Feast (beside the features).
WINDOW_START_COLUMN = "window_start"
EVENT_TIMESTAMP_COLUMN = "event_timestamp"  # = window end
CREATED_COLUMN = "created"  # = when the job emitted the row

DEFAULT_SESSION_GAP_S = 1800


def push_source_name(view: str) -> str:
    return f"{view}_push"


def zero_values(view: str) -> dict[str, float]:
    """What an idle user's sliding window reads as once it has passed."""
    return dict.fromkeys(VIEWS[view].features, 0.0)
