"""``otel-carbon estimate``: the footprint of one call, as one JSON object (a stable contract).

    otel-carbon estimate --provider P --model M --input-tokens N --output-tokens N
        [--cached-input-tokens N] [--zone Z | --region PROVIDER:REGION]
        [--boundary accelerator|comprehensive] --json
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from otel_carbon._usage import usage_error
from otel_carbon.cli._numbers import whole_number
from otel_carbon.cli._where import location_arg
from otel_carbon.config import CarbonSettings, ConfigError
from otel_carbon.estimate.catalogue import Catalogue
from otel_carbon.estimate.inference import TokenUsage
from otel_carbon.footprint import Footprint, compute_footprint, resolve_zone
from otel_carbon.intensity.cache import IntensityCache
from otel_carbon.sci import Boundary, Range


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("estimate", help="estimate energy, carbon and cost of one LLM call")
    parser.add_argument("--provider", required=True, help="GenAI provider, e.g. openai, anthropic, gcp.gemini")
    parser.add_argument("--model", required=True, help="model id, e.g. gpt-4o-mini")
    parser.add_argument("--input-tokens", type=whole_number, required=True, help="input tokens, cached ones included")
    parser.add_argument("--output-tokens", type=whole_number, required=True, help="output tokens, reasoning included")
    parser.add_argument("--cached-input-tokens", type=whole_number, default=0, help="input tokens read from cache")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--zone", help="grid zone, e.g. FR, US, US-CAL-CISO")
    where.add_argument("--region", help="cloud region as PROVIDER:REGION, e.g. aws:eu-west-1")
    parser.add_argument("--boundary", choices=[b.value for b in Boundary], default=None)
    parser.add_argument("--json", action="store_true", help="print one JSON object (the stable contract)")
    parser.set_defaults(handler=run)


def _fail(message: str) -> int:
    return usage_error("estimate", message)


def run(args: argparse.Namespace) -> int:
    if args.cached_input_tokens > args.input_tokens:
        return _fail("--cached-input-tokens cannot exceed --input-tokens")
    try:
        settings = CarbonSettings.from_env(boundary=args.boundary)
    except ConfigError as exc:
        return _fail(str(exc))
    catalogue = Catalogue.default()
    try:
        catalogue.check_provider(args.provider)
    except ValueError as exc:
        return _fail(f"--provider: {exc}")
    if args.zone or args.region:
        try:
            zone = location_arg(args).zone
        except ValueError as exc:
            return _fail(str(exc))
    else:
        zone = resolve_zone(settings, catalogue, args.provider, local=False)
    usage = TokenUsage(
        input=args.input_tokens, output=args.output_tokens, cached_input=args.cached_input_tokens
    )
    footprint = compute_footprint(
        provider=args.provider,
        model=args.model,
        usage=usage,
        zone=zone,
        settings=settings,
        catalogue=catalogue,
        intensity=IntensityCache(),
    )
    report = footprint_report(footprint)
    if args.json:
        print(json.dumps(report, sort_keys=True))
    else:
        print(_text(report))
    return 0


def _triple(value: Range) -> dict[str, float]:
    return {"low": value.low, "mid": value.mid, "high": value.high}


def footprint_report(footprint: Footprint) -> dict[str, Any]:
    """The JSON contract of ``otel-carbon estimate`` (J, g CO2e, gCO2e/kWh, USD).

    An unknown provider or zone is refused (exit 2) before this; an unknown model is estimated by
    the catalogue's fallback class, ``model_match`` ``pattern`` or ``default`` (as ``sci.model.match``
    on spans and in ``collector ottl`` statements).
    """
    layers = footprint.layers
    reading = footprint.intensity
    model = footprint.model
    return {
        "energy_j": _triple(footprint.energy_j),
        "carbon_g": _triple(footprint.carbon_g),
        "operational_g": footprint.operational_g.mid,
        "embodied_g": footprint.embodied_g,
        "intensity_g_per_kwh": reading.g_per_kwh,
        "zone": reading.zone,
        "intensity_source": reading.source,
        "intensity_fallback": reading.fallback,
        "method": footprint.method,
        "boundary": footprint.boundary.value,
        "layers_j": {
            "accelerator": layers.accelerator.mid,
            "host": layers.host.mid,
            "idle": layers.idle.mid,
            "overhead": layers.overhead.mid,
        },
        "cost_usd": footprint.cost_usd,
        "model_match": model.match if model else "default",
        "model_class": model.spec.name if model else None,
        "score": footprint.score,
        "functional_unit": footprint.functional_unit.value,
    }


def _text(report: dict[str, Any]) -> str:
    energy, carbon = report["energy_j"], report["carbon_g"]
    cost = "n/a" if report["cost_usd"] is None else f"${report['cost_usd']:.6f}"
    model = (f"model {report['model_class']}" if report["model_match"] == "exact" else
             f"model NOT IN THE CATALOGUE: estimated by the fallback class {report['model_class']}"
             f" (model_match {report['model_match']})")
    return (
        f"{model}, boundary {report['boundary']}\n"
        f"energy  {energy['mid']:.3f} J  [{energy['low']:.3f} – {energy['high']:.3f}]\n"
        f"carbon  {carbon['mid']:.6f} g CO2e  [{carbon['low']:.6f} – {carbon['high']:.6f}]"
        f"  at {report['intensity_g_per_kwh']:.0f} gCO2e/kWh ({report['zone']})\n"
        f"cost    {cost}"
    )
