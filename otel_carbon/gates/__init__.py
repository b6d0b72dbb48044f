"""Carbon gates: decisions taken on the numbers, where engineers decide.

* :mod:`~otel_carbon.gates.records` — per-test and per-call carbon records of a test run (JSON);
* :mod:`~otel_carbon.gates.diff` — compare two runs per functional unit and name the causes
  (``otel-carbon diff``);
* :mod:`~otel_carbon.gates.retrain` — the retraining guard (RES; ``otel-carbon retrain-gate``);
* :mod:`~otel_carbon.gates.pytest_plugin` — ``pytest --carbon`` (wiring: the only module here
  that imports the SDK and our instrumentations, and only once ``--carbon`` is given).

Everything but the plugin is core-only.  See ``docs/gates.md``.
"""
