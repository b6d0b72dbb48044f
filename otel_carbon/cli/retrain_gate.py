"""``otel-carbon retrain-gate``: should this retraining run go ahead, wait for a cleaner grid, or not run?

    otel-carbon retrain-gate --expected-gain G (--energy-kwh E | --from-spans FILE [--span-name N])
        (--zone Z | --region PROVIDER:REGION) [--deadline D] [--duration MINUTES]
        [--min-score S] [--json]

Prints ``decision``, ``score``, ``carbon_g``, ``threshold`` (and the window for
``defer``).  Exit codes, for orchestrators: 0 ``retrain`` (run now), 75 ``defer``
(EX_TEMPFAIL: run at the window's start), 99 ``skip`` (Airflow's
``BashOperator`` marks the task skipped on 99), 2 bad input (one line on stderr,
nothing on stdout).  Live intensity and forecasts come from the providers
configured by ``OTEL_CARBON_*`` (one synchronous refresh), else the shipped
table.  With ``OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT`` set, the decision span is
exported over OTLP.
"""

from __future__ import annotations

import argparse
import json
import os
from datetime import datetime, timedelta, timezone
from typing import Any

from otel_carbon import sci
from otel_carbon._usage import usage_error
from otel_carbon.cli._numbers import duration, non_negative, positive
from otel_carbon.cli._where import location_arg
from otel_carbon.config import CarbonSettings, ConfigError
from otel_carbon.gates.retrain import RetrainDecision, decide, energy_from_otlp_json
from otel_carbon.intensity.factory import refreshed_once

#: Exit code per decision (2 is bad input).
EXIT_CODES = {"retrain": 0, "defer": 75, "skip": 99}


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("retrain-gate", help="is a retraining run worth its carbon? (RES)")
    parser.add_argument("--expected-gain", type=non_negative, required=True, metavar="G",
                        help="expected gain of the quality metric, points (e.g. %% of forecast error removed)")
    energy = parser.add_mutually_exclusive_group(required=True)
    energy.add_argument("--energy-kwh", type=positive, metavar="E",
                        help="expected training energy, kWh")
    energy.add_argument("--from-spans", metavar="FILE",
                        help="OTLP/JSON spans of the previous training run: its measured energy")
    parser.add_argument("--span-name", help="with --from-spans: only spans of this name")
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--zone", help="grid zone where the run executes, e.g. FR, GB, US-CAL-CISO")
    where.add_argument("--region", help="cloud region as PROVIDER:REGION, e.g. aws:eu-west-1")
    parser.add_argument("--deadline", type=_deadline, metavar="D",
                        help="latest end of the run: ISO 8601 time (UTC if no offset) or +N[m|h|d]")
    parser.add_argument("--duration", type=positive, default=60.0, metavar="MINUTES",
                        help="expected length of the run, minutes (default 60)")
    parser.add_argument("--min-score", type=non_negative, default=1.0, metavar="S",
                        help="threshold, points per kg CO2e (default 1)")
    parser.add_argument("--json", action="store_true", help="print one JSON object (the stable contract)")
    parser.set_defaults(handler=run)


def _deadline(raw: str) -> datetime:
    text = raw.strip()
    try:
        if text.startswith("+"):
            return datetime.now(timezone.utc) + duration(text[1:])
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, argparse.ArgumentTypeError):
        raise argparse.ArgumentTypeError(f"expected an ISO 8601 time or +N[m|h|d], got {raw!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _fail(message: str) -> int:
    return usage_error("retrain-gate", message)


def run(args: argparse.Namespace) -> int:
    if args.span_name and not args.from_spans:
        return _fail("--span-name needs --from-spans")
    try:
        settings = CarbonSettings.from_env()
        location = location_arg(args)
        energy_j = (args.energy_kwh * sci.JOULES_PER_KWH if args.energy_kwh is not None
                    else energy_from_otlp_json(args.from_spans, args.span_name))
    except (ConfigError, ValueError) as exc:
        return _fail(str(exc))
    tracer_provider = _tracer_provider()
    try:
        with refreshed_once(settings, location) as cache:  # ConfigError (a ValueError): a provider without credentials
            decision = decide(
                expected_gain=args.expected_gain, energy_j=energy_j, zone=location.zone, min_score=args.min_score,
                intensity=cache, deadline=args.deadline, duration=timedelta(minutes=args.duration),
                energy_source="spans" if args.from_spans else "given", tracer_provider=tracer_provider,
            )
    except ValueError as exc:
        return _fail(str(exc))
    finally:
        if tracer_provider is not None:
            tracer_provider.shutdown()
    print(json.dumps(decision.to_json(), sort_keys=True) if args.json else _text(decision))
    return EXIT_CODES[decision.decision]


def _tracer_provider() -> Any:
    """A provider exporting the decision span over OTLP when an endpoint is configured, else ``None``."""
    if not (os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")):
        return None
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    from otel_carbon.distro import otlp_span_exporter

    provider = TracerProvider(resource=Resource.create())
    provider.add_span_processor(BatchSpanProcessor(otlp_span_exporter()))
    return provider


def _text(decision: RetrainDecision) -> str:
    lines = [
        f"decision   {decision.decision}",
        f"score      {decision.score:.4g} points per kg CO2e (now: {decision.score_now:.4g})",
        f"threshold  {decision.threshold:g}",
        (f"carbon_g   {decision.carbon_g:.1f} g CO2e at {decision.intensity_g_per_kwh:.0f} gCO2e/kWh "
         f"({decision.zone}, {decision.intensity_source})"),
    ]
    if decision.window_start is not None and decision.window_end is not None:
        lines.append(f"window     {decision.window_start.isoformat()} → {decision.window_end.isoformat()}")
    lines.append(f"reason     {decision.reason}")
    return "\n".join(lines)
