"""The shipped model and hardware catalogue (``data/models.json``, ``data/hardware.json``).

A lookup never fails: a known model (by name, alias, dated snapshot or
provider-prefixed id) is an ``exact`` match; an unknown name that matches a
fallback class's pattern is a ``pattern`` match; anything else gets the
``default`` class.  Callers put the match kind on the span so an estimate for
an unknown model is always flagged as such.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any, Literal

from otel_carbon.sci import Range

MatchKind = Literal["exact", "pattern", "default"]

# Version suffixes providers append to a model id: -2024-08-06, -20241022,
# @20241022, -v1:0, :latest, -001, -preview-05-20, -latest.
_SNAPSHOT_SUFFIX = re.compile(
    r"(?:[-@]\d{4}-?\d{2}-?\d{2}|-v\d+(?::\d+)?|:[\w.]+|-\d{3}|-preview(?:-[\d-]+)?|-latest)$"
)
# Prefixes that route a model: "openai/", "models/", Bedrock "us.anthropic.", "meta.".
_ROUTE_PREFIX = re.compile(r"^(?:[\w.-]+/)+|^(?:(?:us|eu|apac|global)\.)?[a-z0-9-]+\.(?=[a-z])")
_BOUNDARY_CHARS = frozenset("-:@._/")


@dataclass(frozen=True)
class Prices:
    """USD per 1 000 000 tokens."""

    input: float
    output: float
    cached_input: float | None = None
    cache_write: float | None = None

    def cost_usd(self, uncached_input: int, cached_input: int, cache_write: int, output: int) -> float:
        """Cost of one call in USD; cache writes at their own price where one is listed."""
        cached_price = self.input if self.cached_input is None else self.cached_input
        write_price = self.input if self.cache_write is None else self.cache_write
        return (
            uncached_input * self.input
            + cached_input * cached_price
            + cache_write * write_price
            + output * self.output
        ) / 1e6


@dataclass(frozen=True)
class ModelSpec:
    """One catalogue entry or fallback class. Parameters in billions."""

    name: str
    provider: str | None
    kind: str
    params_total_b: Range
    params_active_b: Range
    prices: Prices | None
    source: str
    #: Weights published (servable on one's own hardware); closed models are only ever hosted.
    open_weights: bool = True


@dataclass(frozen=True)
class ModelMatch:
    spec: ModelSpec
    match: MatchKind


@dataclass(frozen=True)
class ProviderSpec:
    """Where and on what a provider serves: PUE, accelerator class, serving grid zone."""

    name: str
    pue: float
    hardware: str
    serving_zone: str | None


@dataclass(frozen=True)
class Accelerator:
    name: str
    tdp_w: float
    peak_bf16_flops: float
    embodied_kg: float


@dataclass(frozen=True)
class Hardware:
    accelerators: Mapping[str, Accelerator]
    default: str
    accelerators_per_server: int
    server_embodied_kg: float

    def accelerator(self, name: str | None) -> Accelerator:
        return self.accelerators.get(name or self.default) or self.accelerators[self.default]

    def device_embodied_g(self, accelerator: Accelerator) -> float:
        """SCI ``TE`` of one accelerator with its share of the server around it, g CO2e."""
        return 1000.0 * (accelerator.embodied_kg + self.server_embodied_kg / self.accelerators_per_server)


def _range(value: Any) -> Range:
    if isinstance(value, Mapping):
        low, high = float(value["low"]), float(value["high"])
        mid = float(value.get("mid", (low * high) ** 0.5))  # geometric mean of a size range
        return Range(low, mid, high)
    return Range.exact(float(value))


def _prices(value: Mapping[str, Any] | None) -> Prices | None:
    if not value or value.get("input") is None or value.get("output") is None:
        return None
    return Prices(
        input=float(value["input"]),
        output=float(value["output"]),
        cached_input=None if value.get("cached_input") is None else float(value["cached_input"]),
        cache_write=None if value.get("cache_write") is None else float(value["cache_write"]),
    )


def _spec(entry: Mapping[str, Any], name: str) -> ModelSpec:
    total = _range(entry["params_total_b"])
    return ModelSpec(
        name=name,
        provider=entry.get("provider"),
        kind=entry.get("kind", "chat"),
        params_total_b=total,
        params_active_b=_range(entry.get("params_active_b", entry["params_total_b"])),
        prices=_prices(entry.get("price_usd_per_mtok")),
        source=entry.get("source", ""),
        open_weights=bool(entry.get("open_weights", True)),
    )


def normalise(model: str) -> str:
    """Lower-case a model id and strip routing prefixes (``openai/``, ``models/``, Bedrock's ``us.anthropic.``)."""
    return _ROUTE_PREFIX.sub("", model.strip().lower())


class Catalogue:
    """Models, fallback classes, providers and hardware, loaded from ``data/``."""

    def __init__(self, models_doc: Mapping[str, Any], hardware_doc: Mapping[str, Any]) -> None:
        self._by_name: dict[str, ModelSpec] = {}
        self._by_provider_name: dict[tuple[str, str], ModelSpec] = {}
        for entry in models_doc["models"]:
            spec = _spec(entry, entry["name"])
            for alias in (entry["name"], *entry.get("aliases", ())):
                key = alias.lower()
                self._by_name.setdefault(key, spec)
                self._by_provider_name[(spec.provider or "", key)] = spec
        self._names_longest_first = sorted(self._by_name, key=len, reverse=True)
        self._classes = [
            (re.compile(c["pattern"], re.IGNORECASE), _spec(c, c["class"]))
            for c in models_doc.get("fallback_classes", ())
        ]
        default = models_doc["default_class"]
        self._default = _spec(default, default["class"])
        self._providers = {
            key: ProviderSpec(
                name=key,
                pue=float(p["pue"]),
                hardware=p.get("hardware", hardware_doc["default"]),
                serving_zone=p.get("serving_zone"),
            )
            for key, p in models_doc["providers"].items()
        }
        server = hardware_doc["server"]
        self.hardware = Hardware(
            accelerators={
                k: Accelerator(k, a["tdp_w"], a["peak_bf16_flops"], a["embodied_kg"])
                for k, a in hardware_doc["accelerators"].items()
            },
            default=hardware_doc["default"],
            accelerators_per_server=int(server["accelerators_per_server"]),
            server_embodied_kg=float(server["embodied_kg_without_accelerators"]),
        )
        self._find_cached = lru_cache(maxsize=4096)(self._find)

    @classmethod
    def default(cls) -> Catalogue:
        """The shipped catalogue, loaded once per process."""
        return _shipped()

    def provider(self, name: str | None) -> ProviderSpec | None:
        return self._providers.get(name or "")

    def check_provider(self, name: str) -> ProviderSpec:
        """The provider ``name`` (a ``gen_ai.provider.name`` value); ``ValueError`` listing the known ones."""
        spec = self._providers.get(name)
        if spec is None:
            raise ValueError(f"unknown provider {name!r} (known: {', '.join(sorted(self._providers))})")
        return spec

    @property
    def providers(self) -> Mapping[str, ProviderSpec]:
        return self._providers

    def find(self, provider: str | None, model: str | None) -> ModelMatch:
        """Best catalogue entry for ``model`` served by ``provider`` (memoised; never raises)."""
        return self._find_cached(provider, model)

    def _find(self, provider: str | None, model: str | None) -> ModelMatch:
        if model:
            spec = self._known(provider or "", model.strip().lower())
            if spec is None:
                spec = self._known(provider or "", normalise(model))
            if spec is not None:
                return ModelMatch(spec, "exact")
            for pattern, cls_spec in self._classes:
                if pattern.search(model):
                    return ModelMatch(cls_spec, "pattern")
        return ModelMatch(self._default, "default")

    def _known(self, provider: str, name: str) -> ModelSpec | None:
        candidate = name
        while candidate:
            spec = self._by_provider_name.get((provider, candidate)) or self._by_name.get(candidate)
            if spec is not None:
                return spec
            stripped = _SNAPSHOT_SUFFIX.sub("", candidate)
            if stripped == candidate:
                break
            candidate = stripped
        # A dated or fine-tuned variant of a known name: longest known prefix at a separator.
        for known in self._names_longest_first:
            if name.startswith(known) and len(name) > len(known) and name[len(known)] in _BOUNDARY_CHARS:
                return self._by_name[known]
        return None


def _load_json(name: str) -> Any:
    with resources.files("otel_carbon").joinpath("data", name).open("r", encoding="utf-8") as fh:
        return json.load(fh)


@lru_cache(maxsize=1)
def _shipped() -> Catalogue:
    return Catalogue(_load_json("models.json"), _load_json("hardware.json"))
