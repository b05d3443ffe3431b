"""The feature contract between the features job and this service.

``FEATURE_NAMES`` fixes the column order of the scoring model's ``FEATURES``
input; every model version's card repeats the order it was trained with, and the
server refuses a version whose card disagrees (see ``scoring.ModelCatalog``).
A feature that is missing online is replaced by its documented default (all
windows count/sum/mean 0: "no activity seen"), and the answer is flagged
``degraded`` with reason ``features_defaulted:<n>``.
"""

from __future__ import annotations

FEATURE_SERVICE = "risk_scoring_v1"
ENTITY_KEY = "user_id"
SCORER_MODEL = "risk_scorer"

# (feature view, feature) in model input order.
FEATURES: tuple[tuple[str, str], ...] = (
    ("user_activity_5m", "event_count_5m"),
    ("user_activity_5m", "amount_sum_5m"),
    ("user_activity_5m", "amount_mean_5m"),
    ("user_activity_5m", "distinct_actions_5m"),
    ("user_activity_5m", "view_count_5m"),
    ("user_activity_5m", "click_count_5m"),
    ("user_activity_5m", "add_to_cart_count_5m"),
    ("user_activity_5m", "purchase_count_5m"),
    ("user_activity_5m", "search_count_5m"),
    ("user_activity_5m", "login_count_5m"),
    ("user_activity_5m", "logout_count_5m"),
    ("user_activity_1h", "event_count_1h"),
    ("user_activity_1h", "amount_sum_1h"),
    ("user_activity_1h", "amount_mean_1h"),
    ("user_activity_1h", "purchase_count_1h"),
    ("user_activity_24h", "event_count_24h"),
    ("user_activity_24h", "amount_sum_24h"),
    ("user_activity_24h", "purchase_count_24h"),
    ("user_sessions", "session_count_24h"),
    ("user_sessions", "last_session_length_s"),
    ("user_sessions", "last_session_event_count"),
    ("user_documents_1h", "doc_count_1h"),
)
FEATURE_NAMES: tuple[str, ...] = tuple(name for _, name in FEATURES)
FEATURE_REFS: tuple[str, ...] = tuple(f"{view}:{name}" for view, name in FEATURES)

# Documented defaults used when a value is absent (never seen, expired, null).
DEFAULTS: dict[str, float] = dict.fromkeys(FEATURE_NAMES, 0.0)
