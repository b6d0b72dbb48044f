"""The gateway's YAML configuration file and ``OTEL_CARBON_COLLECTOR_*`` overrides.

The file is a mapping whose keys are the ``otel-carbon collector`` options
(``listen``, ``http_port``, ``upstream``, ``queue_dir``, …, as in ``--help``
with ``_`` for ``-``), plus ``carbon:``, a mapping of the ``OTEL_CARBON_*``
settings by field name (``zone``, ``dimensions``, …).  Precedence, lowest
first: built-in defaults, the file, ``OTEL_CARBON_COLLECTOR_<OPTION>``
variables, command-line flags.  Everything is validated at start; errors
name the key (``config key 'http_port': expected an integer``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from otel_carbon._extras import missing_extra
from otel_carbon.config import BOOL_SPELLINGS

ENV_PREFIX = "OTEL_CARBON_COLLECTOR_"
#: option → (type, default)
OPTIONS: dict[str, tuple[type, Any]] = {
    "listen": (str, "0.0.0.0:4317"),
    "http_port": (int, 4318),
    "metrics_port": (int, 9464),
    "upstream": (str, None),
    "upstream_protocol": (str, "grpc"),
    "upstream_timeout_s": (float, 10.0),
    "upstream_ca": (str, None),
    "upstream_cert": (str, None),
    "upstream_key": (str, None),
    "upstream_headers": (str, None),
    "http_header_timeout_s": (float, 10.0),
    "http_body_timeout_s": (float, 30.0),
    "queue_dir": (str, None),
    "queue_max_mb": (float, 256.0),
    "max_inflight": (int, 64),
    "export_metrics_s": (float, 60.0),
    "tls_cert": (str, None),
    "tls_key": (str, None),
    "tls_client_ca": (str, None),
    "bearer_token_file": (str, None),
    "count_enriched": (bool, False),
}
CARBON_KEY = "carbon"


class CollectorConfigError(ValueError):
    """A configuration value the gateway cannot use; the message names the key."""


def _typed(key: str, value: Any, origin: str) -> Any:
    kind = OPTIONS[key][0]
    if kind is bool:
        if value is None or isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in BOOL_SPELLINGS:
            return BOOL_SPELLINGS[value.strip().lower()]
        raise CollectorConfigError(f"{origin} {key!r}: expected true or false, got {value!r}")
    if value is None or isinstance(value, kind) and not isinstance(value, bool):
        return value
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return kind(value.strip())
        except ValueError:
            pass
    names = {int: "an integer", float: "a number", str: "a string"}
    raise CollectorConfigError(f"{origin} {key!r}: expected {names[kind]}, got {value!r}")


def load_file(path: str | Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """Options and carbon settings from a YAML file (needs PyYAML, the ``collector`` extra)."""
    try:
        import yaml
    except ModuleNotFoundError as exc:
        raise missing_extra("collector", exc, "--config") from exc
    try:
        document = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise CollectorConfigError(f"--config: cannot read {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise CollectorConfigError(f"--config: {path} is not valid YAML: {exc}") from exc
    if document is None:
        return {}, {}
    if not isinstance(document, dict):
        raise CollectorConfigError(f"--config: {path} must be a mapping of options")
    unknown = sorted(set(document) - set(OPTIONS) - {CARBON_KEY})
    if unknown:
        raise CollectorConfigError(
            f"config key {unknown[0]!r} is not known (known: {', '.join(sorted(OPTIONS))}, {CARBON_KEY})"
        )
    carbon = document.get(CARBON_KEY) or {}
    if not isinstance(carbon, dict):
        raise CollectorConfigError(f"config key {CARBON_KEY!r}: expected a mapping of otel-carbon settings")
    options = {key: _typed(key, value, "config key") for key, value in document.items() if key != CARBON_KEY}
    return options, dict(carbon)


def resolve(
    cli: Mapping[str, Any], config_file: str | None, environ: Mapping[str, str] | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Effective options (defaults < file < environment < ``cli`` values that are not ``None``) and the
    file's carbon settings."""
    env = os.environ if environ is None else environ
    options = {key: default for key, (_, default) in OPTIONS.items()}
    carbon: dict[str, Any] = {}
    if config_file:
        from_file, carbon = load_file(config_file)
        options.update(from_file)
    for key in OPTIONS:
        raw = env.get(ENV_PREFIX + key.upper())
        if raw is not None and raw.strip():
            options[key] = _typed(key, raw, "environment variable " + ENV_PREFIX + key.upper() + " for")
    options.update({key: value for key, value in cli.items() if key in OPTIONS and value is not None})
    return options, carbon
