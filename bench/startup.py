"""Start-up cost of ``opentelemetry-instrument`` with our instrumentors, against the same launcher without them.

Each configuration starts a fresh interpreter that does nothing (``-c pass``)
``--runs`` times; the median wall time is kept.  Configurations:

* ``python``         — the bare interpreter;
* ``launcher``       — ``opentelemetry-instrument`` with every one of our instrumentors disabled
                       (distro, configurator, exporters ``none``);
* ``instrumented``   — the same with our instrumentors on (they register post-import hooks);
* ``sdk imports``    — ``launcher`` plus importing every installed SDK module our instrumentors
                       wrap: what instrumenting at start-up would cost an app that uses none of them.

    python bench/startup.py [--runs 5] [--json]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import time
from importlib.metadata import entry_points
from pathlib import Path

LAUNCHER = str(Path(sys.executable).parent / "opentelemetry-instrument")


def _ours() -> dict[str, str]:
    """Our instrumentor entry points: name → the module each patches (read from the class)."""
    found = {}
    for ep in entry_points(group="opentelemetry_instrumentor"):
        if ep.value.startswith("otel_carbon."):
            found[ep.name] = ep.load()._module
    return found


def _time(cmd: list[str], env: dict[str, str], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, env=env, check=True, capture_output=True, timeout=300)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    ours = _ours()
    installed = [m for m in ours.values() if importlib.util.find_spec(m.split(".")[0]) is not None]
    env = dict(os.environ, OTEL_TRACES_EXPORTER="none", OTEL_METRICS_EXPORTER="none", OTEL_LOGS_EXPORTER="none",
               VLLM_LOGGING_LEVEL="ERROR")
    off = dict(env, OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=",".join(ours))
    imports = "; ".join(f"import {m}" for m in installed)
    result = {
        "python": _time([sys.executable, "-c", "pass"], env, args.runs),
        "launcher": _time([LAUNCHER, sys.executable, "-c", "pass"], off, args.runs),
        "instrumented": _time([LAUNCHER, sys.executable, "-c", "pass"], env, args.runs),
        "sdk imports": _time([LAUNCHER, sys.executable, "-c", imports or "pass"], off, args.runs),
    }
    report = {name: {"s": s, "ratio_to_launcher": s / result["launcher"]} for name, s in result.items()}
    report["installed_sdks"] = installed  # type: ignore[assignment]
    if args.json:
        print(json.dumps(report, indent=2))
        return
    for name, s in result.items():
        print(f"{name:<13} {s:7.3f} s  {s / result['launcher']:.2f}× launcher")
    print("SDK modules installed:", ", ".join(installed))


if __name__ == "__main__":
    main()
