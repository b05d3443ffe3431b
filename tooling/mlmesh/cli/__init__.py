"""The `mlmesh` command line. Each module here that defines
``register(subparsers)`` contributes its sub-commands."""
