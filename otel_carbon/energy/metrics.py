"""``hw.energy`` (counter, J) and ``hw.power`` (gauge, W) per measured device component.

Names and attributes follow the OpenTelemetry hardware conventions: ``hw.id``,
``hw.type`` (``gpu``, ``cpu``, ``memory``), ``hw.name``.  Values are the
devices' own readings (machine-wide, not this process's share): a GPU's
energy counter since the meter first read it, RAPL domains' energy; power
where the device reports it.  A modelled CPU exports nothing here.
"""

from __future__ import annotations

from collections.abc import Iterable

from opentelemetry.metrics import CallbackOptions, Meter, Observation

from otel_carbon import semconv as sc
from otel_carbon.energy.measured import DeviceMeter


def register_hw_metrics(meter: Meter, energy_meter: DeviceMeter) -> None:
    """Create the observable ``hw.energy`` counter and ``hw.power`` gauge on ``meter``."""

    def attributes(hw_id: str, hw_type: str, name: str) -> dict[str, str]:
        return {sc.HW_ID: hw_id, sc.HW_TYPE: hw_type, sc.HW_NAME: name}

    def energy(options: CallbackOptions) -> Iterable[Observation]:
        return [Observation(r.energy_j, attributes(r.hw_id, r.hw_type, r.name))
                for r in energy_meter.hw_readings() if r.energy_j is not None]

    def power(options: CallbackOptions) -> Iterable[Observation]:
        return [Observation(r.power_w, attributes(r.hw_id, r.hw_type, r.name))
                for r in energy_meter.hw_readings() if r.power_w is not None]

    meter.create_observable_counter(sc.METRIC_HW_ENERGY, callbacks=[energy], unit="J",
                                    description="Energy consumed by the component")
    meter.create_observable_gauge(sc.METRIC_HW_POWER, callbacks=[power], unit="W",
                                  description="Instantaneous power consumed by the component")
