"""The Feast repository for the ``feast`` CLI (``feast -c services/features/feature_repo
apply``). Objects come from :func:`features.feast_defs.definitions`; the writer
applies the same objects itself at start-up."""

import os
from pathlib import Path

from features.feast_defs import definitions

_defs = definitions(Path(os.environ.get(
    "MLMESH_FEAST_OFFLINE_DIR",
    str(Path(os.environ.get("MLMESH_STATE_DIR", ".mlmesh")) / "features" / "offline"))))

user = _defs.entity
risk_scoring_v1 = _defs.service
user_activity_5m, user_activity_1h, user_activity_24h, user_sessions, user_documents_1h = (
    _defs.views)
(user_activity_5m_push, user_activity_1h_push, user_activity_24h_push, user_sessions_push,
 user_documents_1h_push) = _defs.push_sources
