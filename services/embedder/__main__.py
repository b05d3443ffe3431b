"""``python -m embedder``."""

import sys

from embedder.app import main

sys.exit(main())
