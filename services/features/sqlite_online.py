"""Feast's SQLite online write as one ``executemany`` per feature view.

``SqliteOnlineStore.online_write_batch`` (Feast 0.67) runs one ``execute`` per
feature value in a Python loop, and converts both timestamps per value; on a
1,000-row, 11-feature batch that loop is about half of the write. This writes
the same rows with the same statement into the same table, built with Feast's
own helpers (table id, entity key serialization, ``value_text``, the
timestamp adapter Feast registers with ``sqlite3``), each timestamp
converted once per row. ``tests/integration/features/test_sqlite_online_rows.py``
holds the stored rows to Feast's own write, column by column, and the
feature writer falls back to Feast's write for any configuration this does
not cover (``supports``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import datetime
from typing import Any

# (entity key proto, feature name -> Value proto, event time, created time)
OnlineRow = tuple[Any, dict[str, Any], datetime, datetime | None]


def supports(config: Any) -> bool:
    """True for a plain SQLite online store: no vector or numeric-value
    columns, which Feast's write fills and this one does not."""
    online = config.online_store
    return (getattr(online, "type", "") == "sqlite"
            and not getattr(online, "vector_enabled", False)
            and not getattr(online, "enable_openai_compatible_store", False))


class SqliteOnlineWriter:
    """Writes through the connection of Feast's own SQLite online store, so
    reads through Feast see each write as soon as it commits."""

    def __init__(self, feature_store: Any) -> None:
        import feast.infra.online_stores.sqlite  # noqa: F401  (registers the adapters)
        from feast.infra.online_stores.helpers import compute_table_id

        self._fs = feature_store
        self._table_id = compute_table_id
        self._sql: dict[str, str] = {}
        adapt = sqlite3.adapters.get((datetime, sqlite3.PrepareProtocol))
        if adapt is None:
            raise RuntimeError("Feast's sqlite3 datetime adapter is not registered")
        self._adapt: Callable[[datetime], Any] = adapt

    def _conn(self) -> sqlite3.Connection:
        config = self._fs.config
        conn: sqlite3.Connection = self._fs.provider.online_store._get_conn(config)
        return conn

    def _statement(self, view: Any) -> str:
        if view.name not in self._sql:
            config = self._fs.config
            table = self._table_id(config.project, view,
                                   config.registry.enable_online_feature_view_versioning)
            quoted = '"' + table.replace('"', '""') + '"'
            self._sql[view.name] = (
                f"INSERT INTO {quoted} (entity_key, feature_name, value, value_text, "
                "event_ts, created_ts) VALUES (?, ?, ?, ?, ?, ?) "
                "ON CONFLICT(entity_key, feature_name) DO UPDATE SET "
                "value = excluded.value, value_text = excluded.value_text, "
                "event_ts = excluded.event_ts, created_ts = excluded.created_ts;")
        return self._sql[view.name]

    def write(self, view: Any, rows: list[OnlineRow]) -> None:
        """One transaction: all of ``rows`` or none."""
        from feast.infra.key_encoding_utils import serialize_entity_key
        from feast.infra.online_stores.helpers import extract_text_and_num
        from feast.utils import to_naive_utc

        version = self._fs.config.entity_key_serialization_version
        adapt = self._adapt
        params: list[tuple[Any, ...]] = []
        for key, values, event_ts, created_ts in rows:
            key_bin = serialize_entity_key(key, entity_key_serialization_version=version)
            event = adapt(to_naive_utc(event_ts))
            created = adapt(to_naive_utc(created_ts)) if created_ts is not None else None
            for name, val in values.items():
                text, _num = extract_text_and_num(val, False)
                params.append((key_bin, name, val.SerializeToString(), text, event, created))
        conn = self._conn()
        with conn:
            conn.executemany(self._statement(view), params)
