"""``otel-carbon route``: which deployment a carbon-aware router picks for one request, and why.

    otel-carbon route --deployments FILE --input-tokens N --output-tokens N
        [--max-latency-ms L] [--max-cost-usd C] [--min-quality Q]
        [--allowed-region R …] [--json]

FILE is a YAML list of deployments (``docs/routing.md``).  Intensity comes
from the providers configured in ``OTEL_CARBON_*`` (one synchronous refresh per
zone), else the static table.  ``--json`` prints ``chosen``, ``carbon_g``,
``saved_g_vs_cheapest``, ``cost_choice``, ranked ``candidates`` and
``excluded``.  A bad file, or no deployment meeting the constraints (named),
exits 2 with one line on stderr.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from otel_carbon._usage import usage_error
from otel_carbon.cli._numbers import non_negative, whole_number
from otel_carbon.config import CarbonSettings, ConfigError
from otel_carbon.intensity.factory import refreshed_once
from otel_carbon.intensity.zones import Location
from otel_carbon.routing.deployment import Deployment, DeploymentError, load_deployments
from otel_carbon.routing.router import Candidate, CarbonRouter, Constraints, Decision, NoDeploymentError


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("route", help="choose the lowest-carbon deployment that meets the constraints")
    parser.add_argument("--deployments", required=True, help="YAML file: a list of deployments")
    parser.add_argument("--input-tokens", type=whole_number, required=True, help="estimated input tokens")
    parser.add_argument("--output-tokens", type=whole_number, required=True, help="estimated output tokens")
    parser.add_argument("--max-latency-ms", type=non_negative, help="p95 latency limit, ms")
    parser.add_argument("--max-cost-usd", type=non_negative, help="cost limit per request, USD")
    parser.add_argument("--min-quality", type=whole_number, help="lowest acceptable quality tier")
    parser.add_argument(
        "--allowed-region",
        action="append",
        default=[],
        help="data residency: country code, EU, zone key or PROVIDER:REGION (repeatable)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    try:
        deployments = load_deployments(args.deployments)
        settings = CarbonSettings.from_env()
        with refreshed_once(settings, *{_location(d) for d in deployments}) as cache:
            router = CarbonRouter(deployments, intensity=cache, settings=settings)
            constraints = Constraints.of(
                max_latency_ms=args.max_latency_ms,
                max_cost_usd=args.max_cost_usd,
                min_quality=args.min_quality,
                allowed_regions=args.allowed_region,
            )
            decision = router.choose(args.input_tokens, args.output_tokens, constraints)
    except (DeploymentError, ConfigError, NoDeploymentError) as exc:
        return usage_error("route", str(exc))
    report = decision_report(decision)
    print(json.dumps(report, sort_keys=True) if args.json else _text(report))
    return 0


def _location(deployment: Deployment) -> Location:
    if deployment.region is None:
        return Location(deployment.zone)
    provider, _, region = deployment.region.partition(":")
    return Location(deployment.zone, (provider, region))


def _candidate(candidate: Candidate) -> dict[str, Any]:
    reading = candidate.intensity
    return {
        "name": candidate.name,
        "zone": candidate.deployment.zone,
        "region": candidate.deployment.region,
        "carbon_g": candidate.carbon_g,
        "energy_j": candidate.energy_j,
        "cost_usd": candidate.cost_usd,
        "p95_ms": candidate.latency_ms,
        "intensity_g_per_kwh": reading.g_per_kwh,
        "intensity_source": reading.source,
        "intensity_fallback": reading.fallback,
    }


def decision_report(decision: Decision) -> dict[str, Any]:
    """The JSON contract of ``otel-carbon route`` (g CO2e, J, USD, ms, gCO2e/kWh)."""
    return {
        "chosen": decision.chosen.name,
        "carbon_g": decision.chosen.carbon_g,
        "cost_usd": decision.chosen.cost_usd,
        "cost_choice": decision.cost_choice.name,
        "saved_g_vs_cheapest": decision.saved_g,
        "cost_delta_usd": decision.cost_delta_usd,
        "intensity_fallback": decision.intensity_fallback,
        "candidates": [_candidate(c) for c in decision.candidates],
        "excluded": [{"name": e.name, "constraint": e.constraint, "detail": e.detail} for e in decision.excluded],
    }


def _text(report: dict[str, Any]) -> str:
    headline = (
        f"chosen {report['chosen']}: {report['carbon_g']:.6f} g CO2e, "
        f"saving {report['saved_g_vs_cheapest']:.6f} g against the cheapest ({report['cost_choice']})"
    )
    lines = [headline]
    for rank, item in enumerate(report["candidates"], 1):
        cost = "n/a" if item["cost_usd"] is None else f"${item['cost_usd']:.6f}"
        flag = ", fallback" if item["intensity_fallback"] else ""
        lines.append(
            f"{rank:>3}. {item['name']:<24} {item['carbon_g']:.6f} g  {cost:>11}  "
            f"{item['zone']} {item['intensity_g_per_kwh']:.0f} gCO2e/kWh{flag}"
        )
    lines.extend(f"  excluded {e['name']}: {e['constraint']} ({e['detail']})" for e in report["excluded"])
    return "\n".join(lines)
