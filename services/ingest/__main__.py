"""``python -m ingest``."""

import sys

from ingest.app import main

sys.exit(main())
