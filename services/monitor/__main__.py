"""``python -m monitor``: thin entry point."""

from __future__ import annotations

from monitor.app import main
from monitor.settings import Settings

if __name__ == "__main__":
    main(Settings())
