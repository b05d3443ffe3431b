"""Launchers that run the mesh's real servers as local processes (no Docker)."""
