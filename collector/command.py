"""``otel-carbon collector``: run the OTLP/gRPC gateway that adds carbon to GenAI spans (registered by ``otel_carbon.cli``).

    otel-carbon collector [run] --listen 0.0.0.0:4317 --upstream otelcol:4317
    otel-carbon collector ottl --model openai/gpt-4o-mini [--model …]   # transform statements for otelcol-contrib

Receiver security: ``--tls-cert``/``--tls-key`` (TLS), ``--tls-client-ca``
(mTLS), and a bearer token read from ``--bearer-token-file`` or the
``OTEL_CARBON_COLLECTOR_BEARER_TOKEN`` variable (never from the command line,
where ``ps`` would show it).
"""

from __future__ import annotations

import argparse
import os
import signal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from otel_carbon._extras import MissingExtraError
from otel_carbon._usage import usage_error
from otel_carbon.config import ENV_PREFIX, CarbonSettings, ConfigError

if TYPE_CHECKING:
    from otel_carbon.collector.security import ReceiverSecurity


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("collector", help="run the OTLP gateway that enriches GenAI spans with carbon")
    parser.add_argument("action", nargs="?", choices=("run", "ottl"), default="run",
                        help="run the gateway (default), or print OTTL transform statements with static factors")
    parser.add_argument("--model", action="append", default=[], metavar="PROVIDER/MODEL",
                        help="ottl: a model to emit statements for (repeatable)")
    # Option defaults live in otel_carbon.collector.config (file < OTEL_CARBON_COLLECTOR_* < flags).
    parser.add_argument("--config", help="YAML file of these options (keys with _), plus a 'carbon:' settings map")
    parser.add_argument("--listen", help="OTLP/gRPC address to receive on (host:port; default 0.0.0.0:4317)")
    parser.add_argument("--http-port", type=int, help="OTLP/HTTP port on the --listen host (0: none; default 4318)")
    parser.add_argument("--metrics-port", type=int, help="Prometheus scrape port (0: none; default 9464)")
    parser.add_argument("--upstream", help="run: OTLP/gRPC address to forward to (host:port); required")
    parser.add_argument("--queue-dir", help="directory of the persistent retry queue for upstream outages (none: "
                        "requests are acknowledged only once the upstream took them)")
    parser.add_argument("--queue-max-mb", type=float, help="retry queue bound, default 256; oldest dropped first")
    parser.add_argument("--max-inflight", type=int,
                        help="requests handled at once per receiver (default 64); beyond: RESOURCE_EXHAUSTED / HTTP 429")
    parser.add_argument("--export-metrics-s", type=float,
                        help="export carbon metrics upstream over OTLP every N s (default 60; 0: off)")
    parser.add_argument("--tls-cert", help="PEM server certificate: serve both receivers over TLS")
    parser.add_argument("--tls-key", help="PEM private key of --tls-cert")
    parser.add_argument("--tls-client-ca", help="PEM CA bundle: require client certificates (mTLS)")
    parser.add_argument("--ledger", metavar="URL",
                        help="write each counted call to this ledger: sqlite:///PATH or postgresql://… "
                             "(default: $OTEL_CARBON_LEDGER; see docs/ledger.md)")
    parser.add_argument("--bearer-token-file", help=f"file holding the bearer token clients must send (or ${TOKEN_ENV})")
    parser.set_defaults(handler=main)


def main(args: argparse.Namespace) -> int:
    return ottl(args) if args.action == "ottl" else run(args)


def ottl(args: argparse.Namespace) -> int:
    """Print a transform processor block: static intensity, the catalogue's estimates, per model.

    An unknown provider is refused (exit 2, as ``estimate``); an unknown model is estimated by the
    catalogue's fallback class and says so, in a comment and in ``sci.model.match`` on the spans.
    """
    from otel_carbon.collector.ottl import static_factors, transform_processor_yaml
    from otel_carbon.estimate.catalogue import Catalogue
    from otel_carbon.intensity import build_intensity
    from otel_carbon.processors.enrich import EnrichmentContext

    if not args.model or any(m.count("/") < 1 or not all(m.partition("/")[::2]) for m in args.model):
        return usage_error("collector", "ottl needs --model PROVIDER/MODEL (repeatable), e.g. openai/gpt-4o-mini")
    catalogue = Catalogue.default()
    try:
        for spec in args.model:
            catalogue.check_provider(spec.partition("/")[0])
    except ValueError as exc:
        return usage_error("collector", f"--model: {exc}")
    try:
        settings = CarbonSettings.from_env(intensity_providers=("none",), intensity_cache_file="off")
    except ConfigError as exc:
        return usage_error("collector", str(exc))
    intensity = build_intensity(settings, start=False)
    try:
        context = EnrichmentContext(settings=settings, intensity=intensity)
        factors = [static_factors(*m.split("/", 1), context) for m in args.model]
    finally:
        intensity.close()
    print(transform_processor_yaml(factors), end="")
    return 0


TOKEN_ENV = "OTEL_CARBON_COLLECTOR_BEARER_TOKEN"


def receiver_security(args: argparse.Namespace) -> ReceiverSecurity:
    """The receivers' security from the TLS flags and the token file or variable; ``ValueError`` if inconsistent."""
    from otel_carbon.collector.security import ReceiverSecurity

    token = os.environ.get(TOKEN_ENV) or None
    if args.bearer_token_file:
        try:
            token = Path(args.bearer_token_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ValueError(f"--bearer-token-file: cannot read {args.bearer_token_file}: {exc.strerror}") from exc
    for flag in ("tls_cert", "tls_key", "tls_client_ca"):
        path = getattr(args, flag)
        if path and not Path(path).is_file():
            raise ValueError(f"--{flag.replace('_', '-')}: no such file {path}")
    return ReceiverSecurity(
        bearer_token=token, cert_file=args.tls_cert, key_file=args.tls_key, client_ca_file=args.tls_client_ca
    )


def _carbon_settings(from_file: dict[str, Any]) -> CarbonSettings:
    """``OTEL_CARBON_*`` settings; the file's ``carbon:`` values apply where the variable is unset."""
    unset = {key: value for key, value in from_file.items()
             if not os.environ.get(ENV_PREFIX + str(key).upper(), "").strip()}
    try:
        return CarbonSettings.from_env(**unset)
    except ConfigError as exc:
        raise ConfigError(f"config key 'carbon': {exc}") if unset and "unknown setting" in str(exc) else exc


def run(args: argparse.Namespace) -> int:
    from otel_carbon.collector.config import CollectorConfigError, resolve
    from otel_carbon.collector.gateway import Gateway
    from otel_carbon.intensity import build_intensity
    from otel_carbon.ledger import LedgerError, ledger_sink
    from otel_carbon.processors.enrich import EnrichmentContext

    try:
        options, carbon = resolve(vars(args), args.config)
    except (CollectorConfigError, MissingExtraError) as exc:
        return usage_error("collector", str(exc))
    args = argparse.Namespace(**{**vars(args), **options})
    if not args.upstream:
        return usage_error("collector", "run needs --upstream HOST:PORT")
    if args.max_inflight < 1 or args.queue_max_mb <= 0:
        return usage_error("collector", "--max-inflight and --queue-max-mb must be positive")
    try:
        settings = _carbon_settings(carbon)
        security = receiver_security(args)
    except (ConfigError, ValueError) as exc:
        return usage_error("collector", str(exc))
    try:
        sink = ledger_sink(settings, url=args.ledger, recorded_by="gateway")
    except (LedgerError, MissingExtraError) as exc:
        return usage_error("collector", f"--ledger: {exc}")
    intensity = build_intensity(settings)
    try:
        host = args.listen.rpartition(":")[0] or "0.0.0.0"
        gateway = Gateway(
            args.listen,
            args.upstream,
            EnrichmentContext(settings=settings, intensity=intensity),
            http_listen=(host, args.http_port) if args.http_port else None,
            metrics_listen=(host, args.metrics_port) if args.metrics_port else None,
            security=security,
            queue_dir=args.queue_dir,
            queue_max_bytes=int(args.queue_max_mb * 1024 * 1024),
            max_inflight=args.max_inflight,
            export_metrics_s=args.export_metrics_s or None,
            sinks=(sink,) if sink is not None else (),
        )
    except OSError as exc:
        _close(intensity, sink)
        return usage_error("collector", str(exc))
    except MissingExtraError as exc:
        _close(intensity, sink)
        return usage_error("collector", f"{exc}; or run without it: --metrics-port 0")
    gateway.start()
    signal.signal(signal.SIGTERM, lambda *_: gateway.stop())
    http = f", OTLP/HTTP on port {gateway.http.port}" if gateway.http else ""
    print(f"otel-carbon collector: OTLP/gRPC on port {gateway.port}{http}, forwarding to {args.upstream}", flush=True)
    try:
        gateway.wait()
    except KeyboardInterrupt:
        gateway.stop()
    finally:
        _close(intensity, sink)
    return 0


def _close(intensity: Any, sink: Any) -> None:
    """Save the intensity cache and write the ledger's last rows."""
    intensity.close()
    if sink is not None:
        sink.close()
