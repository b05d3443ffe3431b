"""mlmesh embedder service."""
