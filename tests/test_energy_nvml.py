"""The meter over NVML GPUs, through a pynvml-compatible fake with deterministic counters and power.

Times are multiples of 0.125 s on a fake clock, and each fake GPU's counter
is the exact integral of its power stepped every 0.125 s, so expected joules
are plain products of watts and seconds.
"""

from __future__ import annotations

import logging

import pytest
from energy_support import fresh_log_once, gpu_meter  # noqa: F401 (an autouse fixture)
from fakes.fake_nvml import (
    NVML_ERROR_LIBRARY_NOT_FOUND,
    NVML_ERROR_NO_PERMISSION,
    FakeClock,
    FakeGpu,
    FakeNvml,
)

from otel_carbon import semconv as sc
from otel_carbon.config import CarbonSettings
from otel_carbon.energy import (
    NullMeter,
    default_meter,
    install_meter,
    set_default_meter,
)
from otel_carbon.energy.nvml import discover_gpus, parse_visible_devices

A = "GPU-aaaaaaaa-0000-0000-0000-000000000000"
B = "GPU-bbbbbbbb-0000-0000-0000-000000000000"
C = "GPU-cccccccc-0000-0000-0000-000000000000"


def test_counter_supported_gives_counter_energy() -> None:
    meter, _, clock = gpu_meter([FakeGpu(A, power_w=300.0)])
    window = meter.start()
    clock.advance(2.0)
    m = window.stop(tokens=10)
    assert m is not None
    assert m.accelerator_j == pytest.approx(600.0)  # 300 W × 2 s
    assert m.source == "nvml.counter"
    assert m.devices == (A,)
    assert m.duration_s == pytest.approx(2.0)
    attributes = m.span_attributes()
    assert attributes[sc.SCI_MEASURED_ACCELERATOR] == pytest.approx(600.0)
    assert attributes[sc.SCI_MEASURED_DEVICES] == [A]
    assert attributes[sc.SCI_MEASURED_DEVICE_ENERGY] == [pytest.approx(600.0)]
    assert attributes[sc.SCI_MEASURED_SHARE] == pytest.approx(1.0)


def test_counter_not_supported_integrates_sampled_power() -> None:
    gpu = FakeGpu(A, power_w=100.0, counter=False)
    meter, _, clock = gpu_meter([gpu])
    window = meter.start()  # baseline sample at 100 W
    for _ in range(4):  # 0.5 s at 100 W, sampled every 0.125 s
        clock.advance(0.125)
        meter.sample_now()
    gpu.set_power(clock.t, 300.0)
    meter.sample_now()  # the step is seen at once: 300 W from here
    for _ in range(4):
        clock.advance(0.125)
        meter.sample_now()
    m = window.stop()
    assert m is not None
    # Trapezoids: 0.5 s at 100 W; the jump sample has dt = 0, then 0.5 s at 300 W.
    assert m.accelerator_j == pytest.approx(100.0 * 0.5 + 300.0 * 0.5)
    assert m.source == "nvml.power"
    assert f"{A}:no-counter" in m.span_attributes()[sc.SCI_MEASURED_ISSUES]


def test_window_shorter_than_counter_update_uses_power() -> None:
    meter, _, clock = gpu_meter([FakeGpu(A, power_w=200.0)])
    window = meter.start()
    clock.advance(0.0625)  # inside one counter step: the counter has not moved
    m = window.stop()
    assert m is not None
    assert m.accelerator_j == pytest.approx(200.0 * 0.0625)
    assert m.source == "nvml.power"


def test_counter_reset_falls_back_to_power_for_that_interval(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    gpu = FakeGpu(A, power_w=250.0, counter_reset_at=clock.t + 0.5)  # driver reload mid-window
    meter, _, _ = gpu_meter([gpu], clock=clock)
    window = meter.start()
    for _ in range(8):
        clock.advance(0.125)
        meter.sample_now()
    with caplog.at_level(logging.WARNING):
        m = window.stop()
    assert m is not None
    assert m.accelerator_j == pytest.approx(250.0 * 1.0)
    assert m.source == "nvml.power"
    assert "went backwards" in caplog.text
    # After the reset the counter is trusted again.
    window = meter.start()
    clock.advance(1.0)
    m = window.stop()
    assert m is not None and m.source == "nvml.counter"
    assert m.accelerator_j == pytest.approx(250.0)


def test_several_devices_are_summed_and_listed() -> None:
    meter, _, clock = gpu_meter([FakeGpu(A, power_w=300.0), FakeGpu(B, power_w=150.0, counter=False)])
    window = meter.start()
    clock.advance(1.0)
    meter.sample_now()
    m = window.stop()
    assert m is not None
    assert m.devices == (A, B)
    assert m.span_attributes()[sc.SCI_MEASURED_DEVICE_ENERGY] == [pytest.approx(300.0), pytest.approx(150.0)]
    assert m.accelerator_j == pytest.approx(450.0)
    assert m.source == "nvml.counter+nvml.power"


@pytest.mark.parametrize(
    ("visible", "expected"),
    [
        (None, [A, B, C]),
        ("1", [B]),
        ("2,0", [C, A]),
        ("GPU-bbbb", [B]),  # a unique UUID prefix, as CUDA accepts
        ("0,-1,2", [A]),  # CUDA stops at the first invalid entry
        ("", []),
        ("7", []),  # no such GPU: nothing after it either
    ],
)
def test_cuda_visible_devices_selects_gpus(visible: str | None, expected: list[str]) -> None:
    clock = FakeClock()
    nvml = FakeNvml([FakeGpu(A, 100.0), FakeGpu(B, 100.0), FakeGpu(C, 100.0)], clock)
    assert [g.info.hw_id for g in discover_gpus(nvml, visible)] == expected


def test_parse_visible_devices() -> None:
    assert parse_visible_devices(None) is None
    assert [e.index for e in parse_visible_devices("0, 3")] == [0, 3]  # type: ignore[union-attr]
    assert parse_visible_devices("MIG-123")[0].uuid == "MIG-123"  # type: ignore[index]


def test_mig_instance_is_measured_on_its_parent_and_flagged(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    gpu = FakeGpu(B, 400.0, mig_mode=True, mig_instances=("MIG-1111-2222",))
    nvml = FakeNvml([FakeGpu(A, 100.0), gpu], clock)
    with caplog.at_level(logging.WARNING):
        devices = discover_gpus(nvml, "MIG-1111-2222")
    assert [d.info.hw_id for d in devices] == [B]
    assert f"{B}:mig-shared" in devices[0].issues()
    assert "MIG mode" in caplog.text


def test_library_missing_gives_null_meter(tmp_path, caplog: pytest.LogCaptureFixture) -> None:
    nvml = FakeNvml([FakeGpu(A, 100.0)], FakeClock(), init_error=NVML_ERROR_LIBRARY_NOT_FOUND)
    previous = default_meter()
    try:
        with caplog.at_level(logging.INFO):
            assert discover_gpus(nvml, None) == []  # said once (at INFO), whoever asks first
            meter = install_meter(CarbonSettings(), nvml=nvml, environ={}, proc_root=str(tmp_path / "no-proc"))
        assert isinstance(meter, NullMeter)
        assert default_meter() is meter
        assert meter.start().stop(tokens=3) is None
        assert "NVML unavailable" in caplog.text
        assert {r.levelno for r in caplog.records if "NVML" in r.getMessage()} == {logging.INFO}
    finally:
        set_default_meter(previous)


def test_permission_denied_on_counter_uses_power() -> None:
    gpu = FakeGpu(A, power_w=120.0, counter_error=NVML_ERROR_NO_PERMISSION)
    meter, _, clock = gpu_meter([gpu])
    window = meter.start()
    clock.advance(0.5)
    meter.sample_now()
    m = window.stop()
    assert m is not None
    assert m.accelerator_j == pytest.approx(60.0)
    assert m.source == "nvml.power"


def test_gpu_reporting_nothing_is_skipped(caplog: pytest.LogCaptureFixture) -> None:
    gpu = FakeGpu(A, 100.0, counter_error=NVML_ERROR_NO_PERMISSION, power_error=NVML_ERROR_NO_PERMISSION)
    with caplog.at_level(logging.WARNING):
        assert discover_gpus(FakeNvml([gpu, FakeGpu(B, 100.0)], FakeClock()), None)[0].info.hw_id == B
    assert "neither energy nor power" in caplog.text


def test_device_lost_mid_run_reports_the_rest(caplog: pytest.LogCaptureFixture) -> None:
    gpus = [FakeGpu(A, power_w=300.0), FakeGpu(B, power_w=100.0)]
    meter, _, clock = gpu_meter(gpus)
    first = meter.start()
    clock.advance(0.5)
    second = meter.start()  # a boundary: both GPUs are read here
    clock.advance(0.5)
    gpus[1].lost = True
    with caplog.at_level(logging.WARNING):
        m = first.stop()
    assert m is not None
    # A: 0.5 s alone + half of 0.5 s shared; B: only the interval before it was lost.
    assert m.devices == (A, B)
    assert m.span_attributes()[sc.SCI_MEASURED_DEVICE_ENERGY] == [pytest.approx(225.0), pytest.approx(50.0)]
    issues = m.span_attributes()[sc.SCI_MEASURED_ISSUES]
    assert f"{B}:lost" in issues and f"{B}:partial" in issues
    assert "lost" in caplog.text
    m = second.stop()
    assert m is not None and m.devices == (A,)
    assert m.accelerator_j == pytest.approx(75.0)  # its half of the shared 0.5 s at 300 W
    # The app goes on: later windows measure the remaining GPU.
    window = meter.start()
    clock.advance(0.5)
    m = window.stop()
    assert m is not None and m.accelerator_j == pytest.approx(150.0)


def test_stop_twice_and_null_meter_contract() -> None:
    meter, _, clock = gpu_meter([FakeGpu(A, power_w=300.0)])
    window = meter.start()
    clock.advance(1.0)
    assert window.stop() is not None
    assert window.stop() is None
    assert meter.open_windows == 0


def test_short_window_without_power_readings_uses_the_counter_as_it_is() -> None:
    meter, _, clock = gpu_meter([FakeGpu(A, power_w=400.0, power=False)])
    window = meter.start()
    clock.advance(0.125)  # one counter step, but shorter than nothing: integrated power is unavailable
    m = window.stop()
    assert m is not None and m.source == "nvml.counter"
    assert m.accelerator_j == pytest.approx(400.0 * 0.125)


def test_a_binding_raising_something_else_marks_the_gpu_lost(caplog: pytest.LogCaptureFixture) -> None:
    gpus = [FakeGpu(A, power_w=100.0), FakeGpu(B, power_w=50.0)]
    meter, _, clock = gpu_meter(gpus)
    window = meter.start()
    clock.advance(1.0)
    gpus[1].binding_error = OSError("driver went away")  # not an NVMLError
    with caplog.at_level(logging.WARNING):
        m = window.stop()
    assert m is not None and m.devices == (A,)
    assert f"{B}:lost" in m.span_attributes()[sc.SCI_MEASURED_ISSUES]
    assert "driver went away" in caplog.text
