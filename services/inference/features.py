"""Online features from Feast: each user's tiles (view ``user_tiles``), turned
into the served values as of the request time (``features.tiles``).

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


def mesh_feature_store(repo_path: Path | None, state_dir: Path, online: str,
                       redis_url: str) -> Any:
    """The mesh's ``features.store.FeastStore`` (its offline tile deltas: what
    training joins), or None when ``repo_path`` is a Feast repo of the user's."""
    from features.store import FeastStore

    default_repo = Path(__file__).resolve().parents[1] / "features" / "feature_repo"
    if repo_path is None or Path(repo_path).resolve() == default_repo:
        return FeastStore(state_dir, online=online, redis_url=redis_url)
    return None


def open_feature_store(repo_path: Path | None, state_dir: Path, online: str,
                       redis_url: str) -> Any:
    """The mesh's Feast store. With no ``repo_path`` (or the checkout's
    services/features/feature_repo) it is the one the feature writer applies:
    its config is built in code from the state dir and the online-store choice
    (SQLite or Redis), exactly as the writer builds it, so an installed wheel
    needs no repository files. Any other ``repo_path`` (a user's own Feast
    repo) is opened as it is."""
    from features.store import FeastStore

    default_repo = Path(__file__).resolve().parents[1] / "features" / "feature_repo"
    if repo_path is None or Path(repo_path).resolve() == default_repo:
        return FeastStore(state_dir, online=online, redis_url=redis_url).open(apply=False)
    from feast import FeatureStore

    return FeatureStore(repo_path=str(repo_path))


class FeastOnlineReader:
    """Each user's tiles from Feast's online store (the ``user_tiles`` view),
    turned into the served vector as of the read time by
    ``features.tiles.features_at``: the definition the offline store uses too.
    A user with no tiles gets the documented defaults (``defaulted``); a user
    whose activity has aged out of every window reads zeros, not defaults."""

    def __init__(self, store: Any, feature_service: str = "") -> None:
        from feast.protos.feast.types.EntityKey_pb2 import EntityKey
        from feast.protos.feast.types.Value_pb2 import Value

        from features.tiles import TILES_FEATURES, TILES_VIEW

        self.store = store
        self.feature_service = feature_service  # kept for callers; tiles need no service
        self._view_name = TILES_VIEW
        self._view: Any = None  # looked up at the first read: the writer may apply it later
        self._requested = [*TILES_FEATURES, "session_gap_ms"]
        self._key = lambda user: EntityKey(join_keys=[ENTITY_KEY],
                                           entity_values=[Value(string_val=user)])
        self._lock = threading.Lock()

    @property
    def view(self) -> Any:
        """The tiles view from the registry. Until the feature writer has
        applied it (a fresh deployment that starts inference first) this
        raises, each read answers ``features_unavailable`` and the probe
        fails; the next read looks again."""
        if self._view is None:
            self._view = self.store.get_feature_view(self._view_name,
                                                     allow_registry_cache=False)
        return self._view

    def _raw(self, user_id: str) -> dict[str, Any] | None:
        view = self.view
        with self._lock:
            found = self.store.provider.online_read(
                self.store.config, view, [self._key(user_id)], self._requested)
        return found[0][1] if found else None

    def read(self, user_id: str, at_ms: int | None = None) -> FeatureVector:
        """The user's features as of ``at_ms`` (default: now)."""
        from features.tile_store import decode_row
        from features.tiles import features_at

        row = decode_row(self._raw(user_id))
        now = time.time_ns() // 1_000_000 if at_ms is None else at_ms
        if row is None:
            return FeatureVector(dict(DEFAULTS), dict.fromkeys(FEATURE_NAMES, -1.0),
                                 FEATURE_NAMES, ())
        state, gap_ms = row
        computed = features_at(state, max(now, state.newest_ms), gap_ms)
        values = {n: computed.get(n, DEFAULTS[n]) for n in FEATURE_NAMES}
        age = float(max(0, now - state.newest_ms))
        defaulted = tuple(n for n in FEATURE_NAMES if n not in computed)
        return FeatureVector(values, dict.fromkeys(FEATURE_NAMES, age), defaulted,
                             tuple(round(values[n] * 1e6) for n in FEATURE_NAMES))

    def probe(self) -> bool:
        self._raw("__mlmesh_health__")
        return True
