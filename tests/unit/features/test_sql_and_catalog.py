"""The job's SQL covers the feature contract; interval literals are exact."""

from __future__ import annotations

import pytest

from features import catalog
from features.job import sql


@pytest.mark.parametrize("ms,literal", [
    (5000, "INTERVAL '0 00:00:05.000' DAY TO SECOND(3)"),
    (300_000, "INTERVAL '0 00:05:00.000' DAY TO SECOND(3)"),
    (86_400_000, "INTERVAL '1 00:00:00.000' DAY TO SECOND(3)"),
    (1_801_500, "INTERVAL '0 00:30:01.500' DAY TO SECOND(3)"),
])
def test_interval_literal(ms: int, literal: str) -> None:
    assert sql.interval(ms) == literal


def test_every_contract_feature_is_computed() -> None:
    text = "\n".join([sql.activity_5m("t"), sql.activity_1h("t"), sql.activity_24h("t"),
                      sql.documents_1h("t"), sql.sessions("t", 1800)])
    for view in catalog.VIEWS.values():
        assert f"'{view.name}'" in text
        for feature in view.features:
            assert f"'{feature}'" in text, feature


def test_contract_names() -> None:
    assert set(catalog.VIEWS) == {"user_activity_5m", "user_activity_1h", "user_activity_24h",
                                  "user_sessions", "user_documents_1h"}
    assert catalog.FEATURE_SERVICE == "risk_scoring_v1"
    assert len(catalog.ACTIVITY_5M.features) == 11


def test_late_filter_is_the_complement_of_on_time() -> None:
    assert f"WHERE NOT {sql.ON_TIME}" in sql.late_select("events", "event_id")
    assert f"WHERE {sql.ON_TIME}" in sql.dedup_view("events")


def test_exactly_once_sink_options() -> None:
    ddl = sql.sink_ddl(sql.KafkaTable("s", "feature_updates", "b:1"), "pfx", 600_000)
    assert "'sink.delivery-guarantee' = 'exactly-once'" in ddl
    assert "'sink.transactional-id-prefix' = 'pfx'" in ddl
    assert "'properties.transaction.timeout.ms' = '600000'" in ddl


def test_zero_values_cover_the_view() -> None:
    assert catalog.zero_values("user_activity_1h") == {
        "event_count_1h": 0.0, "amount_sum_1h": 0.0, "amount_mean_1h": 0.0,
        "purchase_count_1h": 0.0}
