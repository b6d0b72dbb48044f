"""Measured device energy around a unit of work.

The contract instrumentations code against::

    window = default_meter().start()      # cheap; never raises
    ...                                   # the inference call
    measurement = window.stop(tokens=n)   # Measurement | None; never raises
    if measurement is not None:
        span.set_attributes(measurement.span_attributes())

``default_meter()`` is process-wide.  Where nothing can be measured (no NVML,
no RAPL, no permission) it is a meter whose windows return ``None``, and the
span falls back to estimation.

``install_meter(settings)`` builds the real meter (NVML GPUs, the host's RAPL
or CPU model) and makes it the default; ``install_meter_on_first_use`` (the
set-up's choice) defers that to the first window, i.e. the first local-inference
call; see ``docs/energy.md``.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from otel_carbon.energy.meter import (
    EnergyMeter,
    Measurement,
    MeasurementWindow,
    NullMeter,
    default_meter,
    set_default_meter,
)

_LAZY = {
    "install_meter": "otel_carbon.energy.install",
    "install_meter_on_first_use": "otel_carbon.energy.install",
    "DeviceMeter": "otel_carbon.energy.measured",
    "register_hw_metrics": "otel_carbon.energy.metrics",
}

__all__ = [
    "DeviceMeter",
    "EnergyMeter",
    "Measurement",
    "MeasurementWindow",
    "NullMeter",
    "default_meter",
    "install_meter",
    "install_meter_on_first_use",
    "register_hw_metrics",
    "set_default_meter",
]

if TYPE_CHECKING:  # pragma: no cover
    from otel_carbon.energy.install import install_meter, install_meter_on_first_use
    from otel_carbon.energy.measured import DeviceMeter
    from otel_carbon.energy.metrics import register_hw_metrics


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'otel_carbon.energy' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value
