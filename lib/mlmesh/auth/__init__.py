"""API keys that belong to tenants: minting, the shared key log, authorization."""

from __future__ import annotations

from collections.abc import Callable

from mlmesh.auth.authz import Authorizer
from mlmesh.auth.keylog import KeyLog
from mlmesh.common.settings import MeshSettings


def open_authorizer(settings: MeshSettings, on_denied: Callable[[str], None] | None = None,
                    timeout: float = 30.0) -> tuple[Authorizer, KeyLog | None]:
    """The authorizer a service's front doors share, and the key log it follows
    (started; None when ``auth`` is off). The caller closes the log."""
    if not settings.auth:
        return Authorizer(None, on_denied), None
    keys = KeyLog(settings.kafka_bootstrap, settings.keys_topic,
                  settings.kafka_extra()).start(timeout)
    return Authorizer(keys, on_denied), keys
