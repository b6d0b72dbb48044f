"""The energy meter interface and the meter that measures nothing."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Protocol

from otel_carbon import semconv as sc


@dataclass(frozen=True)
class Measurement:
    """Energy attributed to one window: accelerator and host joules, window seconds.

    ``accelerator_j`` / ``host_j`` are ``None`` when that part could not be
    measured; ``devices`` are the ``hw.id`` of the accelerators; ``source``
    says how the figures were obtained (e.g. ``nvml.counter+rapl``).
    """

    accelerator_j: float | None
    host_j: float | None
    duration_s: float
    devices: tuple[str, ...] = ()
    source: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def total_j(self) -> float | None:
        """Accelerator plus host energy, J; ``None`` when neither part could be measured."""
        if self.accelerator_j is None and self.host_j is None:
            return None
        return (self.accelerator_j or 0.0) + (self.host_j or 0.0)

    def span_attributes(self) -> dict[str, Any]:
        """The ``sci.measured.*`` attributes enrichment reads."""
        attributes: dict[str, Any] = {sc.SCI_MEASURED_DURATION: self.duration_s, sc.SCI_MEASURED_SOURCE: self.source}
        if self.accelerator_j is not None:
            attributes[sc.SCI_MEASURED_ACCELERATOR] = self.accelerator_j
        if self.host_j is not None:
            attributes[sc.SCI_MEASURED_HOST] = self.host_j
        if self.devices:
            attributes[sc.SCI_MEASURED_DEVICES] = list(self.devices)
        attributes.update(self.extra)
        return attributes


class MeasurementWindow(Protocol):
    """An open energy measurement window: what ``EnergyMeter.start`` returns; ``stop`` yields its :class:`Measurement`."""

    def stop(self, tokens: int | None = None) -> Measurement | None:
        """Close the window; ``tokens`` (if known) weighs its share of a shared device."""
        ...


class EnergyMeter(Protocol):
    def start(self) -> MeasurementWindow:
        """Open a window now. Cheap, thread-safe, never raises."""
        ...


class _NullWindow:
    def stop(self, tokens: int | None = None) -> Measurement | None:
        return None


class NullMeter:
    """A meter for machines where nothing can be measured: every window yields ``None``."""

    _window = _NullWindow()

    def start(self) -> MeasurementWindow:
        return self._window


_default: EnergyMeter = NullMeter()
_lock = threading.Lock()


def default_meter() -> EnergyMeter:
    """The process-wide meter."""
    return _default


def set_default_meter(meter: EnergyMeter) -> None:
    """Replace the process-wide meter (configuration and tests)."""
    global _default
    with _lock:
        _default = meter
