"""mlmesh features service."""
