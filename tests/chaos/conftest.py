"""Chaos suites run the real local mesh in a temp state dir on their own ports
(29600-29699, never the defaults of a developer's ``mlmesh up``); every test
here is marked ``chaos`` by tests/conftest.py and excluded from ``make test``."""
