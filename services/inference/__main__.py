"""``python -m inference``: the online scoring service."""

from __future__ import annotations

import sys

from inference.app import main
from inference.settings import Settings

if __name__ == "__main__":
    sys.exit(main(Settings()))
