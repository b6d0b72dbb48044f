"""``hw.energy`` / ``hw.power`` from the devices' own readings, through a real SDK metric reader."""

from __future__ import annotations

from pathlib import Path

import pytest
from energy_support import FakeProc, FakeRapl
from fakes.fake_nvml import FakeClock, FakeGpu, FakeNvml
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from otel_carbon import semconv as sc
from otel_carbon.config import CarbonSettings
from otel_carbon.energy import register_hw_metrics
from otel_carbon.energy.install import build_devices
from otel_carbon.energy.measured import DeviceMeter

GPU = "GPU-aaaaaaaa-0000-0000-0000-000000000000"


def points(reader: InMemoryMetricReader) -> dict[tuple[str, str], tuple[float, dict]]:
    found = {}
    data = reader.get_metrics_data()
    for rm in data.resource_metrics:
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                for point in metric.data.data_points:
                    found[(metric.name, point.attributes[sc.HW_ID])] = (point.value, dict(point.attributes), metric.unit)
    return found


def test_hw_energy_and_power_per_device(tmp_path: Path) -> None:
    clock = FakeClock()
    proc = FakeProc(tmp_path / "proc")
    rapl = FakeRapl(tmp_path / "powercap", dram=True)
    gpu = FakeGpu(GPU, power_w=275.0, name="NVIDIA H100 80GB HBM3")
    settings = CarbonSettings(energy_rapl_path=str(tmp_path / "powercap"))
    devices = build_devices(settings, nvml=FakeNvml([gpu], clock), environ={}, proc_root=str(proc.root))
    meter = DeviceMeter(devices, clock=clock, sampler=False)
    reader = InMemoryMetricReader()
    register_hw_metrics(MeterProvider(metric_readers=[reader]).get_meter("test"), meter)

    points(reader)  # first collection: the GPU counter's baseline
    clock.advance(4.0)
    rapl.add("package-0", 120.0)
    rapl.add("dram", 10.0)
    found = points(reader)

    energy, attributes, unit = found[(sc.METRIC_HW_ENERGY, GPU)]
    assert energy == pytest.approx(275.0 * 4.0)  # counter since the meter first read it
    assert unit == "J"
    assert attributes == {sc.HW_ID: GPU, sc.HW_TYPE: "gpu", sc.HW_NAME: "NVIDIA H100 80GB HBM3"}
    power, _, unit = found[(sc.METRIC_HW_POWER, GPU)]
    assert power == pytest.approx(275.0) and unit == "W"
    package, attributes, _ = found[(sc.METRIC_HW_ENERGY, "rapl:intel-rapl:0")]
    assert package == pytest.approx(120.0) and attributes[sc.HW_TYPE] == "cpu"
    dram, attributes, _ = found[(sc.METRIC_HW_ENERGY, "rapl:intel-rapl:0:1")]
    assert dram == pytest.approx(10.0) and attributes[sc.HW_TYPE] == "memory"
    assert (sc.METRIC_HW_POWER, "rapl:intel-rapl:0") not in found  # RAPL gives energy, not power
