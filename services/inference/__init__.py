"""mlmesh inference service."""
