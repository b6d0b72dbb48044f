"""A counted call as a ledger line item, and its GHG Protocol scope class.

Supply (a fact about the call) decides the scope (a convention the user may change):

* ``local``: inference on hardware this site runs — measured energy, a local engine
  (``transformers``, ``vllm``, …), or a loopback/private/named-local endpoint that is not a
  relay to a hosted model (one rule with the enrichment: :func:`otel_carbon.locality.place_call`);
* ``cloud``: the same, on rented cloud capacity (the resource names a ``cloud.provider``);
* ``hosted``: a model API run by its provider.

Default scopes: ``local`` → Scope 2 (purchased electricity of hardware you operate), ``cloud``
and ``hosted`` → Scope 3 category 1 (purchased goods and services).  ``OTEL_CARBON_LEDGER_SCOPES``
(e.g. ``cloud=scope2``) changes the class of a supply; reports state the classification used.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Mapping
from typing import Any

from otel_carbon import semconv as sc
from otel_carbon.accounting import CountedCall
from otel_carbon.config import LEDGER_SCOPES
from otel_carbon.estimate.catalogue import Catalogue
from otel_carbon.locality import place_call

SCOPE2, SCOPE3_CAT1 = LEDGER_SCOPES
DEFAULT_SCOPES: Mapping[str, str] = {"local": SCOPE2, "cloud": SCOPE3_CAT1, "hosted": SCOPE3_CAT1}
#: Dimensions that have their own ledger column (the rest go to the ``dimensions`` JSON).
_COLUMN_DIMENSIONS = frozenset({sc.DIM_PROVIDER, sc.DIM_MODEL, sc.DIM_ZONE, sc.DIM_METHOD})
#: How many (provider, model, endpoint) placements are remembered (cleared when full).
_MAX_PLACEMENTS = 4096


class LineItems:
    """Turns counted calls into rows (tuples in :data:`otel_carbon.ledger.schema.COLUMN_NAMES` order)."""

    def __init__(
        self,
        *,
        scopes: Mapping[str, str] | None = None,
        local_endpoints: tuple[str, ...] = (),
        recorded_by: str = "app",
    ) -> None:
        self._scopes = {**DEFAULT_SCOPES, **(scopes or {})}
        self._local_endpoints = local_endpoints
        self._recorded_by = recorded_by
        self._catalogue: Catalogue | None = None  # loaded on the writer thread, at the first call
        #: (provider, model, address, port) -> ran here?  Fixed by the catalogue and the local endpoints.
        self._placements: dict[tuple[str | None, ...], bool] = {}

    def supply(self, call: CountedCall) -> str:
        """``local``, ``cloud`` or ``hosted`` (see the module docstring)."""
        carbon, attributes = call.carbon, call.attributes
        local = carbon.get(sc.SCI_ENERGY_METHOD) == "measured"
        if not local and not carbon.get(sc.SCI_PROXIED):
            provider = sc.first_present(attributes, sc.PROVIDER_KEYS)
            model = sc.first_present(attributes, sc.MODEL_KEYS)
            address, port = attributes.get(sc.SERVER_ADDRESS), attributes.get(sc.SERVER_PORT)
            key = (_text(provider), _text(model), address if isinstance(address, str) else None, _text(port))
            found = self._placements.get(key)
            if found is None:
                found = self._place(*key)
                if len(self._placements) >= _MAX_PLACEMENTS:
                    self._placements.clear()
                self._placements[key] = found
            local = found
        if not local:
            return "hosted"
        return "cloud" if call.resource.get(sc.CLOUD_PROVIDER) else "local"

    def _place(self, provider: str | None, model: str | None, address: str | None, port: str | None) -> bool:
        """Whether a call to this endpoint ran here (:func:`~otel_carbon.locality.place_call`)."""
        if self._catalogue is None:
            self._catalogue = Catalogue.default()
        return place_call(provider, model, address, port, catalogue=self._catalogue,
                          local_endpoints=self._local_endpoints).local

    def row(self, call: CountedCall) -> tuple[Any, ...]:
        """The line item of ``call``."""
        carbon, attributes, dims = call.carbon, call.attributes, call.dimensions
        supply = self.supply(call)
        extra = {k: v for k, v in dims.items() if k not in _COLUMN_DIMENSIONS}
        span_id = f"{call.span_id:016x}" if call.span_id else "u" + uuid.uuid4().hex
        cost = _number(carbon.get(sc.GEN_AI_USAGE_COST, attributes.get(sc.GEN_AI_USAGE_COST)))
        fallback = carbon.get(sc.SCI_INTENSITY_FALLBACK)
        return (
            f"{call.trace_id:032x}",
            span_id,
            int(call.end_time_ns),
            _text(call.resource.get(sc.SERVICE_NAME)),
            _text(dims.get(sc.DIM_PROVIDER)),
            _text(dims.get(sc.DIM_MODEL)),
            _text(attributes.get(sc.GEN_AI_OPERATION_NAME)),
            _text(carbon.get(sc.SCI_INTENSITY_ZONE)),
            json.dumps(extra, sort_keys=True, default=str),
            supply,
            self._scopes[supply],
            _text(carbon.get(sc.SCI_BOUNDARY)),
            _text(carbon.get(sc.SCI_ENERGY_METHOD)),
            _text(carbon.get(sc.SCI_MODEL_MATCH)),
            _text(carbon.get(sc.SCI_MODEL_CLASS)),
            _count(sc.first_present(attributes, sc.INPUT_TOKEN_KEYS)),
            _count(sc.first_present(attributes, sc.OUTPUT_TOKEN_KEYS)),
            _number(carbon.get(sc.SCI_ENERGY)),
            _number(carbon.get(sc.SCI_ENERGY_LOW)),
            _number(carbon.get(sc.SCI_ENERGY_HIGH)),
            _number(carbon.get(sc.SCI_ENERGY_ACCELERATOR)),
            _number(carbon.get(sc.SCI_ENERGY_HOST)),
            _number(carbon.get(sc.SCI_ENERGY_IDLE)),
            _number(carbon.get(sc.SCI_ENERGY_OVERHEAD)),
            _number(carbon.get(sc.SCI_INTENSITY)),
            _text(carbon.get(sc.SCI_INTENSITY_SOURCE)),
            1 if fallback else 0,
            _text(carbon.get(sc.SCI_INTENSITY_OBSERVED_AT)),
            _number(carbon.get(sc.SCI_OPERATIONAL)),
            _number(carbon.get(sc.SCI_EMBODIED)),
            _number(carbon.get(sc.SCI_CARBON)),
            _number(carbon.get(sc.SCI_CARBON_LOW)),
            _number(carbon.get(sc.SCI_CARBON_HIGH)),
            cost,
            _text(carbon.get(sc.SCI_FUNCTIONAL_UNIT)),
            _number(carbon.get(sc.SCI_SCORE)),
            self._recorded_by,
        )


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _number(value: Any) -> float | None:
    """A finite float, else None (never a silent 0)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _count(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        return None
    return int(value)
