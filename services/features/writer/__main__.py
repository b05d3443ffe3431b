"""``python -m features.writer``."""

import sys

from features.settings import Settings
from features.writer.app import main

sys.exit(main(Settings()))
