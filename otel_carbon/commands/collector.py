"""``otel-carbon collector``: run the OTLP/gRPC gateway that adds carbon to GenAI spans.

    otel-carbon collector --listen 0.0.0.0:4317 --upstream otelcol:4317
"""

from __future__ import annotations

import argparse
import signal
from typing import Any

from otel_carbon.commands import usage_error
from otel_carbon.config import CarbonSettings, ConfigError


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("collector", help="run the OTLP gateway that enriches GenAI spans with carbon")
    parser.add_argument("--listen", default="0.0.0.0:4317", help="OTLP/gRPC address to receive on (host:port)")
    parser.add_argument("--http-port", type=int, default=4318, help="OTLP/HTTP port on the --listen host (0: none)")
    parser.add_argument("--metrics-port", type=int, default=9464, help="Prometheus scrape port (0: none)")
    parser.add_argument("--upstream", required=True, help="OTLP/gRPC address to forward to (host:port)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from otel_carbon.collector.gateway import Gateway
    from otel_carbon.intensity import build_intensity
    from otel_carbon.processors.enrich import EnrichmentContext

    try:
        settings = CarbonSettings.from_env()
    except ConfigError as exc:
        return usage_error("collector", str(exc))
    intensity = build_intensity(settings)
    try:
        host = args.listen.rpartition(":")[0] or "0.0.0.0"
        gateway = Gateway(
            args.listen,
            args.upstream,
            EnrichmentContext(settings=settings, intensity=intensity),
            http_listen=(host, args.http_port) if args.http_port else None,
            metrics_listen=(host, args.metrics_port) if args.metrics_port else None,
        )
    except OSError as exc:
        intensity.close()
        return usage_error("collector", str(exc))
    except ImportError:
        intensity.close()
        return usage_error("collector", "the metrics endpoint needs: pip install 'otel-carbon[collector]' (or --metrics-port 0)")
    gateway.start()
    signal.signal(signal.SIGTERM, lambda *_: gateway.stop())
    http = f", OTLP/HTTP on port {gateway.http.port}" if gateway.http else ""
    print(f"otel-carbon collector: OTLP/gRPC on port {gateway.port}{http}, forwarding to {args.upstream}", flush=True)
    try:
        gateway.wait()
    except KeyboardInterrupt:
        gateway.stop()
    finally:
        intensity.close()
    return 0
