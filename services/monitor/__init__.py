"""mlmesh monitor service."""
