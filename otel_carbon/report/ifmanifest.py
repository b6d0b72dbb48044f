"""``--format if-manifest``: the period's observations as a Green Software Foundation Impact Framework
manifest (``@grnsft/if``), so that ``if-run`` recomputes the SCI from them.

One component per group (``--by``; one ``all`` component without), one observation per day with
calls: ``duration`` 86400 s, ``energy`` kWh, ``carbon-operational`` and ``carbon-embodied`` g CO2e,
``requests`` (calls).  The pipeline is IF's builtins ``Sum`` (carbon = operational + embodied) and
``Sci`` (functional unit ``requests``), so each observation's ``sci`` is g CO2e per request, and the
tree's aggregated ``carbon`` and ``requests`` are the period's totals.  The file is JSON, which is
YAML too (no YAML library needed).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from otel_carbon.ledger.store import DAY, Ledger
from otel_carbon.report.period import Period
from otel_carbon.sci import JOULES_PER_KWH

_DAY_S = 86_400


def if_manifest(ledger: Ledger, period: Period, by: Sequence[str] = ()) -> dict[str, Any]:
    """The manifest document (see the module docstring)."""
    rows = ledger.totals(period.start, period.end, by=(*by, DAY))
    children: dict[str, Any] = {}
    for row in sorted(rows, key=lambda r: (str([r.group.get(k) for k in by]), str(r.group[DAY]))):
        if not row.calls:
            continue
        name = " / ".join(str(row.group.get(k)) for k in by) or "all"
        child = children.setdefault(name, {"pipeline": {"compute": ["sum-carbon", "sci"]}, "inputs": []})
        child["inputs"].append({
            "timestamp": f"{row.group[DAY]}T00:00:00.000Z",
            "duration": _DAY_S,
            "energy": row.energy_j / JOULES_PER_KWH,
            "carbon-operational": row.operational_g,
            "carbon-embodied": row.embodied_g,
            "requests": row.calls,
        })
    return {
        "name": f"otel-carbon {period.label}",
        "description": f"LLM calls counted by otel-carbon from {period.start.date()} to {period.end.date()} "
                       f"(excluded), per {', '.join(by) or 'period'} and day; ledger {ledger.url.redacted()}",
        "tags": {"kind": "llm-inference", "complexity": "simple", "category": "ai"},
        "aggregation": {"metrics": ["carbon", "requests"], "type": "both"},
        "initialize": {
            "plugins": {
                "sum-carbon": {
                    "path": "builtin",
                    "method": "Sum",
                    "config": {"input-parameters": ["carbon-operational", "carbon-embodied"],
                               "output-parameter": "carbon"},
                    "parameter-metadata": {
                        "inputs": {
                            name: {"unit": "gCO2e", "description": f"{kind} emissions of the calls",
                                   "aggregation-method": {"time": "sum", "component": "sum"}}
                            for name, kind in (("carbon-operational", "operational"), ("carbon-embodied", "embodied"))
                        },
                        "outputs": {"carbon": {"unit": "gCO2e", "description": "operational + embodied",
                                               "aggregation-method": {"time": "sum", "component": "sum"}}},
                    },
                },
                "sci": {"path": "builtin", "method": "Sci", "config": {"functional-unit": "requests"},
                        "parameter-metadata": {"inputs": {"requests": {
                            "unit": "requests", "description": "LLM calls",
                            "aggregation-method": {"time": "sum", "component": "sum"}}}}},
            }
        },
        "tree": {"children": children},
    }


def to_if_manifest(ledger: Ledger, period: Period, by: Sequence[str] = ()) -> str:
    return json.dumps(if_manifest(ledger, period, by), indent=2, allow_nan=False) + "\n"
