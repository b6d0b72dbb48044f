"""The real meter on a real NVIDIA GPU through the real NVML (skipped where there is none)."""

from __future__ import annotations

import time

import pytest

from otel_carbon import semconv as sc
from otel_carbon.config import CarbonSettings
from otel_carbon.energy.install import build_devices, import_nvml
from otel_carbon.energy.measured import DeviceMeter


def real_gpus():
    nvml = import_nvml()
    if nvml is None:
        pytest.skip("nvidia-ml-py not installed")
    try:
        nvml.nvmlInit()
        count = nvml.nvmlDeviceGetCount()
    except nvml.NVMLError as exc:
        pytest.skip(f"no NVML here: {exc}")
    if count == 0:
        pytest.skip("NVML sees no GPU")
    devices = build_devices(CarbonSettings(), nvml=nvml)
    gpus = [d for d in devices if d.info.role == "accelerator"]
    if not gpus:
        pytest.skip("no measurable GPU visible to this process")
    return devices, gpus


def busy(seconds: float) -> None:
    """Load the first GPU with matmuls if torch has CUDA, else just wait (the GPU idles)."""
    try:
        import torch
    except ImportError:
        torch = None
    if torch is None or not torch.cuda.is_available():
        time.sleep(seconds)
        return
    a = torch.randn(2048, 2048, device="cuda")
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        torch.matmul(a, a)
        torch.cuda.synchronize()


def test_real_gpu_window_measures_plausible_energy() -> None:
    devices, gpus = real_gpus()
    meter = DeviceMeter(devices)
    try:
        window = meter.start()
        busy(1.5)
        m = window.stop(tokens=100)
        short = meter.start()
        short_m = short.stop()
    finally:
        meter.close()
    assert m is not None and m.accelerator_j is not None
    assert list(m.devices) == [g.info.hw_id for g in gpus if f"{g.info.hw_id}:lost" not in g.issues()]
    assert all(d.startswith("GPU-") for d in m.devices)
    assert "nvml." in m.source
    per_device_w = [j / m.duration_s for j in m.span_attributes()[sc.SCI_MEASURED_DEVICE_ENERGY]]
    assert all(5.0 < w < 2000.0 for w in per_device_w), per_device_w  # idle ≥ ~20 W, no GPU draws 2 kW
    assert short_m is None or short_m.accelerator_j is None or short_m.accelerator_j >= 0.0
    readings = meter.hw_readings()
    gpu_readings = [r for r in readings if r.hw_type == "gpu"]
    assert {r.hw_id for r in gpu_readings} == {g.info.hw_id for g in gpus}
    assert all(r.power_w is None or 5.0 < r.power_w < 2000.0 for r in gpu_readings)


def test_cuda_visible_devices_is_honoured() -> None:
    _, gpus = real_gpus()
    first = gpus[0].info.hw_id
    nvml = import_nvml()
    env = {"CUDA_VISIBLE_DEVICES": first}
    devices = build_devices(CarbonSettings(), nvml=nvml, environ=env)
    assert [d.info.hw_id for d in devices if d.info.role == "accelerator"] == [first]
