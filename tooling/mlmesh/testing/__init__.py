"""pytest plugins with fixtures that run the real servers (see tests/conftest.py)."""
