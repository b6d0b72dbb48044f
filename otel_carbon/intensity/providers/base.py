"""What every live intensity provider implements, and the parsing helpers they share.

A provider is a small client over the shared :class:`~otel_carbon.intensity.http.HttpClient`.
``fetch`` runs on a background refresh thread only — never on the hot path —
and either returns what it got or raises :class:`ProviderError`; the
refresher turns errors into back-off and the cache into flagged fallbacks.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Protocol

from otel_carbon.intensity.errors import FailureKind, ProviderError
from otel_carbon.intensity.reading import Forecast, IntensityIndex, IntensityReading
from otel_carbon.intensity.zones import Location

#: Highest plausible grid intensity, gCO2e/kWh (lignite-only grids are ~1,200).
MAX_PLAUSIBLE_G_PER_KWH = 2500.0

#: Forecast points kept per zone (72 h at 5-minute steps is 864).
MAX_FORECAST_POINTS = 1000


class Secret:
    """A credential: usable as ``.value``, never shown by ``repr``/``str``."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    @property
    def value(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __bool__(self) -> bool:
        return bool(self._value)


@dataclass(frozen=True)
class Fetched:
    """One refresh's result.  ``server_time`` (the HTTP ``Date``) lets the cache correct skew."""

    reading: IntensityReading | None = None
    forecast: Forecast | None = None
    index: IntensityIndex | None = None
    server_time: datetime | None = None
    #: Why the forecast is missing although asked for (the reading still counts).
    forecast_error: ProviderError | None = None


class Provider(Protocol):
    """A live source.  ``name`` is the ``sci.intensity.source`` prefix of its readings."""

    name: str
    #: Time step of the provider's data (s); the refresh TTL is matched to it.
    granularity_s: float
    #: Default request budget per hour when the user sets none.
    budget_per_hour: int

    def serves(self, location: Location) -> bool:
        """Whether this provider can answer for ``location`` (no I/O)."""

    def fetch(self, location: Location, *, forecast: bool) -> Fetched:
        """Latest value (and the forecast when asked and available). Raises ProviderError."""


def optional_forecast(fetch: Callable[[], Forecast]) -> tuple[Forecast | None, ProviderError | None]:
    """Run a forecast call whose failure must not cost the current reading."""
    try:
        return fetch(), None
    except ProviderError as exc:
        return None, exc


def payload_error(what: str) -> ProviderError:
    return ProviderError(FailureKind.PAYLOAD, what)


def intensity_value(raw: Any, what: str) -> float:
    """A gCO2e/kWh number from JSON; rejects missing, non-numeric, NaN, negative or implausible values."""
    if isinstance(raw, bool) or not isinstance(raw, (int, float)):
        raise payload_error(f"{what}: expected a number, got {type(raw).__name__}")
    value = float(raw)
    if not math.isfinite(value) or value < 0 or value > MAX_PLAUSIBLE_G_PER_KWH:
        raise payload_error(f"{what}: implausible intensity {value!r} gCO2e/kWh")
    return value


_FRACTION = re.compile(r"(\.\d{6})\d+")


def parse_time(raw: Any, what: str) -> datetime:
    """An ISO-8601 timestamp as an aware UTC datetime ('Z', offsets, 7-digit fractions, no seconds)."""
    if not isinstance(raw, str) or not raw:
        raise payload_error(f"{what}: expected an ISO-8601 time")
    text = _FRACTION.sub(r"\1", raw.strip())
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise payload_error(f"{what}: not an ISO-8601 time") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def as_list(raw: Any, what: str) -> list[Any]:
    if not isinstance(raw, list):
        raise payload_error(f"{what}: expected a list")
    return raw


def as_dict(raw: Any, what: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise payload_error(f"{what}: expected an object")
    return raw
