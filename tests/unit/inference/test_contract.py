from __future__ import annotations

import pytest

from inference.contract import FEATURE_SERVICE, FEATURES


def test_contract_matches_the_features_catalog() -> None:
    catalog = pytest.importorskip("features.catalog")
    ours = {(v, f) for v, f in FEATURES}
    theirs = {(v.name, f) for v in catalog.VIEWS.values() for f in v.features}
    assert ours == theirs
    assert catalog.FEATURE_SERVICE == FEATURE_SERVICE
