"""The feature writer: ``feature_updates`` (read_committed) -> Feast online + offline."""
