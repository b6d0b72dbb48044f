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
"""

from otel_carbon.energy.meter import EnergyMeter, Measurement, NullMeter, Window, default_meter, set_default_meter

__all__ = ["EnergyMeter", "Measurement", "NullMeter", "Window", "default_meter", "set_default_meter"]
