"""otel-carbon: energy and carbon (SCI, ISO/IEC 21031) of every LLM call, in OpenTelemetry.

Importing this package is cheap: the public names below are loaded on first
use, so the core never pulls in the SDK or the other subpackages.

* :func:`configure` — one-line tracing + metrics setup with carbon enrichment;
* :class:`CarbonSpanProcessor` — wrap your export processor with it;
* :class:`CarbonSettings` / :class:`ConfigError` — settings and their errors.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "configure": "otel_carbon.distro",
    "CarbonSetup": "otel_carbon.distro",
    "CarbonSpanProcessor": "otel_carbon.processors",
    "CarbonSettings": "otel_carbon.config",
    "ConfigError": "otel_carbon.config",
}

__all__ = [*_EXPORTS, "__version__"]

if TYPE_CHECKING:  # pragma: no cover
    from otel_carbon.config import CarbonSettings, ConfigError
    from otel_carbon.distro import CarbonSetup, configure
    from otel_carbon.processors import CarbonSpanProcessor


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'otel_carbon' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value
