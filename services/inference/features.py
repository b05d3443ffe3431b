"""Online features from Feast (read through the feature service).

``import feast`` costs seconds, so it happens once when the service starts,
never per request. One reader is shared by the worker threads; reads are
serialised by a lock (the SQLite online store shares one connection).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inference.contract import DEFAULTS, ENTITY_KEY, FEATURE_NAMES

PRESENT = 1  # feast.serving FieldStatus.PRESENT


@dataclass(frozen=True)
class FeatureVector:
    values: dict[str, float]
    # Age in ms at read time; -1 when the documented default was used.
    ages_ms: dict[str, float]
    defaulted: tuple[str, ...] = ()
    # Event timestamps (ns) of the values: the "feature version" of cache keys.
    version: tuple[int, ...] = field(default_factory=tuple)

    def ordered(self) -> list[float]:
        return [self.values[n] for n in FEATURE_NAMES]

    @property
    def max_age_ms(self) -> float:
        ages = [a for a in self.ages_ms.values() if a >= 0]
        return max(ages) if ages else -1.0


def _number(value: Any) -> float | None:
    kind = value.WhichOneof("val")
    if kind is None or kind == "null_val":
        return None
    raw = getattr(value, kind)
    if isinstance(raw, bool | int | float):
        return float(raw)
    return None


def open_feature_store(repo_path: Path, state_dir: Path, online: str, redis_url: str) -> Any:
    """The mesh's Feast store. The repository in services/features is the one the
    feature writer applies: its config is built in code from the state dir and
    the online-store choice (SQLite or Redis), exactly as the writer builds it.
    Any other ``repo_path`` (a user's own Feast repo) is opened as it is."""
    from features.store import FeastStore

    default_repo = Path(__file__).resolve().parents[1] / "features" / "feature_repo"
    if Path(repo_path).resolve() == default_repo:
        return FeastStore(state_dir, online=online, redis_url=redis_url).open(apply=False)
    from feast import FeatureStore

    return FeatureStore(repo_path=str(repo_path))


class FeastOnlineReader:
    def __init__(self, store: Any, feature_service: str) -> None:
        self.store = store
        self.service = self.store.get_feature_service(feature_service)
        self._lock = threading.Lock()

    def _raw(self, user_id: str) -> Any:
        with self._lock:
            return self.store.get_online_features(
                features=self.service, entity_rows=[{ENTITY_KEY: user_id}]).proto

    def read(self, user_id: str) -> FeatureVector:
        proto = self._raw(user_id)
        now_ns = time.time_ns()
        values = dict(DEFAULTS)
        ages = dict.fromkeys(FEATURE_NAMES, -1.0)
        defaulted: list[str] = []
        version: list[int] = []
        found: set[str] = set()
        for name, result in zip(proto.metadata.feature_names.val, proto.results, strict=False):
            if name not in values:
                continue
            number = _number(result.values[0]) if result.values else None
            status = result.statuses[0] if result.statuses else 0
            if number is None or status != PRESENT:
                continue
            ts = result.event_timestamps[0] if result.event_timestamps else None
            ts_ns = ts.seconds * 1_000_000_000 + ts.nanos if ts is not None else 0
            values[name] = number
            ages[name] = max(0.0, (now_ns - ts_ns) / 1e6) if ts_ns else 0.0
            version.append(ts_ns)
            found.add(name)
        defaulted = [n for n in FEATURE_NAMES if n not in found]
        return FeatureVector(values, ages, tuple(defaulted), tuple(version))

    def probe(self) -> bool:
        self._raw("__mlmesh_health__")
        return True
