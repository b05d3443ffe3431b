"""``python -m features.job``: the features job on PyFlink's mini-cluster."""

import sys

from features.job.features_job import main

sys.exit(main())
