"""``python -m otel_carbon.cli``: the ``otel-carbon`` command."""

import sys

from otel_carbon.cli import main

sys.exit(main())
