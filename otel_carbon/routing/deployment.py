"""Deployments described once: where a model is served, what it costs, how fast it answers.

The same shape serves the Python API, the ``otel-carbon route --deployments``
file (a YAML list of mappings) and the LiteLLM strategy (built from each
deployment's ``model_info``)::

    - name: gpt-4o-mini-sweden      # unique
      provider: azure.ai.openai     # GenAI provider name (gen_ai.provider.name)
      model: gpt-4o-mini
      region: azure:swedencentral   # PROVIDER:REGION (cloud region), or
      # zone: SE-SE3                # an Electricity Maps zone key
      input_price_per_mtok: 0.15    # USD per 1 000 000 input tokens (optional)
      output_price_per_mtok: 0.60   # USD per 1 000 000 output tokens (optional)
      p95_ms: 900                   # configured p95 latency, ms (optional)
      quality: 2                    # quality tier, higher is better (optional)

Without prices a deployment is priced from the model catalogue (exact matches
only); without ``p95_ms`` its latency is what the router has observed, if anything.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from otel_carbon._documents import parse_yaml_or_json
from otel_carbon.estimate.catalogue import Prices
from otel_carbon.intensity.zones import parse_region, region_info

_FIELDS = frozenset(
    {"name", "provider", "model", "region", "zone", "input_price_per_mtok", "output_price_per_mtok", "p95_ms", "quality"}
)


class DeploymentError(ValueError):
    """A deployment description that cannot be used; the message names the entry and the field."""


@dataclass(frozen=True)
class Deployment:
    """One place a model is served.  Prices USD per 1M tokens, latency ms, ``zone`` the grid zone key."""

    name: str
    provider: str
    model: str
    zone: str
    region: str | None = None  # "provider:region" as given, lower case
    country: str | None = None  # ISO 3166 alpha-2 of the region or zone, for residency rules
    prices: Prices | None = None
    p95_ms: float | None = None
    quality: int | None = None


def deployment_from_mapping(entry: Mapping[str, Any], index: int = 0) -> Deployment:
    """Validate one mapping of the documented shape; raises :class:`DeploymentError`."""
    where = f"deployment {index + 1}"
    if not isinstance(entry, Mapping):
        raise DeploymentError(f"{where}: expected a mapping, got {type(entry).__name__}")
    unknown = sorted(set(entry) - _FIELDS)
    if unknown:
        raise DeploymentError(f"{where}: unknown field(s) {', '.join(map(str, unknown))}")
    name = _text(entry, "name", where)
    where = f"deployment {name!r}"
    provider, model = _text(entry, "provider", where), _text(entry, "model", where)
    region, zone, country = _location(entry, where)
    input_price = _number(entry, "input_price_per_mtok", where)
    output_price = _number(entry, "output_price_per_mtok", where)
    if (input_price is None) != (output_price is None):
        raise DeploymentError(f"{where}: give both input_price_per_mtok and output_price_per_mtok, or neither")
    prices = Prices(input_price, output_price) if input_price is not None and output_price is not None else None
    p95 = _number(entry, "p95_ms", where)
    quality = entry.get("quality")
    if quality is not None and (isinstance(quality, bool) or not isinstance(quality, int)):
        raise DeploymentError(f"{where}: quality must be a whole number, got {quality!r}")
    return Deployment(name, provider, model, zone, region, country, prices, p95, quality)


def deployments_from_list(entries: Any) -> list[Deployment]:
    """A list of mappings → deployments, names unique; raises :class:`DeploymentError`."""
    if not isinstance(entries, Sequence) or isinstance(entries, (str, bytes)) or not entries:
        raise DeploymentError("expected a non-empty list of deployments")
    deployments = [deployment_from_mapping(entry, i) for i, entry in enumerate(entries)]
    seen: set[str] = set()
    for deployment in deployments:
        if deployment.name in seen:
            raise DeploymentError(f"deployment name {deployment.name!r} appears twice")
        seen.add(deployment.name)
    return deployments


def load_deployments(path: str | Path) -> list[Deployment]:
    """Read a deployments file (YAML; JSON works without PyYAML); raises :class:`DeploymentError`."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise DeploymentError(f"cannot read {path}: {exc.strerror or exc}") from None
    return deployments_from_list(parse_yaml_or_json(text, path, extra="routing", error=DeploymentError))


def _text(entry: Mapping[str, Any], key: str, where: str) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not value.strip():
        raise DeploymentError(f"{where}: {key} is required (a non-empty string)")
    return value.strip()


def _number(entry: Mapping[str, Any], key: str, where: str) -> float | None:
    value = entry.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise DeploymentError(f"{where}: {key} must be a finite number >= 0, got {value!r}")
    return float(value)


def _location(entry: Mapping[str, Any], where: str) -> tuple[str | None, str, str | None]:
    """(region, zone, country) from ``region`` (PROVIDER:REGION) or ``zone`` — exactly one."""
    region, zone = entry.get("region"), entry.get("zone")
    if (region is None) == (zone is None):
        raise DeploymentError(f"{where}: give exactly one of region (PROVIDER:REGION) or zone")
    if zone is not None:
        key = _text(entry, "zone", where).upper()
        return None, key, key.partition("-")[0] if key != "WORLD" else None
    try:
        provider, name = parse_region(_text(entry, "region", where))
    except ValueError as exc:
        raise DeploymentError(f"{where}: region: {exc}") from None
    info = region_info(provider, name)
    if info is None:
        raise DeploymentError(f"{where}: unknown cloud region {region!r}")
    return f"{info.provider}:{info.region}", info.zone.upper(), info.country
