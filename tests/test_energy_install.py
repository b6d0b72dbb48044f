"""``install_meter``: settings in, the process-wide meter out (real, or null where nothing is measurable)."""

from __future__ import annotations

from pathlib import Path

import pytest
from energy_support import FakeProc
from fakes.fake_nvml import FakeClock, FakeGpu, FakeNvml

from otel_carbon.config import CarbonSettings, ConfigError
from otel_carbon.energy import (
    DeviceMeter,
    NullMeter,
    default_meter,
    install_meter,
    install_meter_on_first_use,
    set_default_meter,
)
from otel_carbon.energy.install import DeferredMeter

GPU = "GPU-aaaaaaaa-0000-0000-0000-000000000000"


@pytest.fixture(autouse=True)
def restore_default():
    previous = default_meter()
    yield
    meter = default_meter()
    if isinstance(meter, DeviceMeter):
        meter.close()
    set_default_meter(previous)


def test_installs_a_device_meter_as_the_default(tmp_path: Path) -> None:
    proc = FakeProc(tmp_path / "proc")
    nvml = FakeNvml([FakeGpu(GPU, 300.0)], FakeClock())
    settings = CarbonSettings.from_env({"OTEL_CARBON_ENERGY_SAMPLE_HZ": "25", "OTEL_CARBON_ENERGY_ATTRIBUTION": "time",
                                        "OTEL_CARBON_ENERGY_RAPL_PATH": str(tmp_path / "none")})
    meter = install_meter(settings, nvml=nvml, environ={}, proc_root=str(proc.root))
    assert isinstance(meter, DeviceMeter) and default_meter() is meter
    assert [d.info.hw_id for d in meter.devices] == [GPU, "host"]
    assert meter.sampler.period_s == pytest.approx(1 / 25)


def test_disabled_meter_is_null(tmp_path: Path) -> None:
    settings = CarbonSettings.from_env({"OTEL_CARBON_ENERGY_METER": "false"})
    nvml = FakeNvml([FakeGpu(GPU, 300.0)], FakeClock())
    assert isinstance(install_meter(settings, nvml=nvml, environ={}), NullMeter)
    assert not nvml.initialised  # not even looked at


@pytest.mark.parametrize(("name", "value"), [("OTEL_CARBON_ENERGY_SAMPLE_HZ", "0"),
                                              ("OTEL_CARBON_ENERGY_ATTRIBUTION", "bytes"),
                                              ("OTEL_CARBON_ENERGY_MEMORY_W_PER_GB", "-1"),
                                              ("OTEL_CARBON_ENERGY_METER", "maybe")])
def test_bad_energy_settings_fail_at_start_up(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match="ENERGY"):
        CarbonSettings.from_env({name: value})


def test_deferred_meter_builds_on_the_first_window_only(tmp_path: Path) -> None:
    """The set-up's meter: nothing is probed until a local-inference call opens a window."""
    proc = FakeProc(tmp_path / "proc")
    nvml = FakeNvml([FakeGpu(GPU, 300.0)], FakeClock())
    settings = CarbonSettings.from_env({"OTEL_CARBON_ENERGY_RAPL_PATH": str(tmp_path / "none")})
    ready: list[object] = []
    deferred = DeferredMeter(lambda: install_meter(settings, nvml=nvml, environ={}, proc_root=str(proc.root)),
                             ready.append)
    set_default_meter(deferred)
    assert deferred.built is None and not nvml.initialised and not ready
    deferred.start().stop()
    deferred.start().stop()
    built = deferred.built
    assert isinstance(built, DeviceMeter) and ready == [built]  # built and announced once
    assert default_meter() is built  # later windows go straight to the real meter


def test_deferred_meter_that_cannot_build_measures_nothing() -> None:
    def broken() -> NullMeter:
        raise RuntimeError("no devices")

    deferred = DeferredMeter(broken)
    assert deferred.start().stop() is None
    assert isinstance(deferred.built, NullMeter)


def test_install_on_first_use_is_null_when_the_meter_is_off() -> None:
    settings = CarbonSettings.from_env({"OTEL_CARBON_ENERGY_METER": "false"})
    assert isinstance(install_meter_on_first_use(settings), NullMeter)
    assert isinstance(install_meter_on_first_use(CarbonSettings()), DeferredMeter)
