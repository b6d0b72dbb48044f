"""The ``--zone`` / ``--region`` pair of the subcommands, as a :class:`~otel_carbon.intensity.zones.Location`."""

from __future__ import annotations

import argparse

from otel_carbon.intensity.zones import Location, location_of


def location_arg(args: argparse.Namespace) -> Location:
    """``args.zone`` or ``args.region`` (``PROVIDER:REGION``); ``ValueError`` (one line) naming the flag."""
    try:
        return location_of(args.zone, args.region)
    except ValueError as exc:
        raise ValueError(f"{'--zone' if args.zone else '--region'}: {exc}") from None
