"""Cost of the energy meter: opening + closing a window, and the sampler's CPU share.

Run: ``python bench/energy.py`` (PYTHONPATH=. and tests/ on the path for the fake NVML).
Prints a JSON summary.

* Window cost: back-to-back ``start()`` / ``stop(tokens=…)`` pairs, µs per window,
  for the null meter (the baseline: the contract's own call overhead), a fake
  NVML with 1 and 8 GPUs, the host alone (a fake RAPL tree in a temp folder, and
  the CPU model on the real ``/proc``), and 8 GPUs + host.  The background sampler
  runs at its default rate throughout, as in production.
* Sampler CPU share: this process's CPU time while the main thread sleeps with one
  window open, minus the same sleep with no window open (the idle baseline, same
  run), as a fraction of one core, at the default rate and at 10× it.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from energy_support import FakeProc, FakeRapl
from fakes.fake_nvml import FakeGpu, FakeNvml

from otel_carbon.config import CarbonSettings
from otel_carbon.energy import NullMeter
from otel_carbon.energy.device import Device
from otel_carbon.energy.host import open_host
from otel_carbon.energy.measured import DeviceMeter
from otel_carbon.energy.nvml import discover_gpus

DEFAULT_HZ = CarbonSettings().energy_sample_hz
WINDOWS = 20_000
SLEEP_S = 4.0


def gpus(n: int) -> list[Device]:
    nvml = FakeNvml([FakeGpu(f"GPU-{i:08x}-0000", power_w=300.0) for i in range(n)], time.monotonic)  # type: ignore[arg-type]
    return list(discover_gpus(nvml, None))


def host(rapl_root: Path, proc_root: str = "/proc") -> Device:
    device = open_host(rapl_path=rapl_root, proc_root=proc_root, memory_w_per_gb=0.375, stale_s=2.0 / DEFAULT_HZ)
    assert device is not None
    return device


def window_cost_us(meter) -> float:
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        for i in range(WINDOWS):
            meter.start().stop(tokens=i)
        best = min(best, (time.perf_counter() - t0) / WINDOWS * 1e6)
    return best


def cpu_share(devices: list[Device], hz: float) -> dict[str, float]:
    meter = DeviceMeter(devices, sample_hz=hz)
    try:
        c0 = time.process_time()
        time.sleep(SLEEP_S)
        idle = time.process_time() - c0
        window = meter.start()
        passes0 = meter.sampler.passes
        c0 = time.process_time()
        time.sleep(SLEEP_S)
        busy = time.process_time() - c0
        passes = meter.sampler.passes - passes0
        window.stop()
    finally:
        meter.close()
    return {"hz": hz, "idle_cpu_s": idle, "sampling_cpu_s": busy, "passes": passes,
            "core_share": max(busy - idle, 0.0) / SLEEP_S}


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        rapl_root = Path(tmp) / "powercap"
        FakeRapl(rapl_root, dram=True)
        FakeProc(Path(tmp) / "proc")
        results: dict[str, object] = {"windows_per_case": WINDOWS, "default_sample_hz": DEFAULT_HZ}
        baseline = window_cost_us(NullMeter())
        cases = {
            "fake_nvml_1gpu": gpus(1),
            "fake_nvml_8gpu": gpus(8),
            "rapl_host": [host(rapl_root)],
            "cpu_model_host": [host(Path(tmp) / "no-rapl")],
            "fake_nvml_1gpu+rapl_host": gpus(1) + [host(rapl_root)],
            "fake_nvml_8gpu+rapl_host": gpus(8) + [host(rapl_root)],
        }
        costs: dict[str, dict[str, float]] = {"null_meter": {"us_per_window": baseline, "ratio": 1.0}}
        for name, devices in cases.items():
            meter = DeviceMeter(devices, sample_hz=DEFAULT_HZ)
            try:
                us = window_cost_us(meter)
            finally:
                meter.close()
            costs[name] = {"us_per_window": us, "ratio": us / baseline}
        results["window_cost"] = costs
        # What the fake NVML itself costs per window (2 counter reads per GPU), to tell it from the meter's own work.
        nvml = FakeNvml([FakeGpu("GPU-probe", power_w=300.0)], time.monotonic)  # type: ignore[arg-type]
        nvml.nvmlInit()
        handle = nvml.nvmlDeviceGetHandleByIndex(0)
        t0 = time.perf_counter()
        for _ in range(WINDOWS):
            nvml.nvmlDeviceGetTotalEnergyConsumption(handle)
            nvml.nvmlDeviceGetTotalEnergyConsumption(handle)
        results["fake_nvml_reads_us_per_window_per_gpu"] = (time.perf_counter() - t0) / WINDOWS * 1e6
        share_devices = gpus(8) + [host(rapl_root)]
        results["sampler_cpu"] = {
            "default_rate_8gpu+rapl": cpu_share(share_devices, DEFAULT_HZ),
            "10x_rate_8gpu+rapl": cpu_share(share_devices, DEFAULT_HZ * 10),
            "default_rate_cpu_model": cpu_share([host(Path(tmp) / "no-rapl")], DEFAULT_HZ),
        }
        results["goals"] = {
            # The goal is for one GPU and the host (the common case); each further GPU adds two counter reads.
            "window_under_50us_1gpu+host": costs["fake_nvml_1gpu+rapl_host"]["us_per_window"] < 50,
            "over_50us": [name for name, c in costs.items() if c["us_per_window"] >= 50],
            "sampler_under_1pct_core": results["sampler_cpu"]["default_rate_8gpu+rapl"]["core_share"] < 0.01,  # type: ignore[index]
        }
        results["python"] = sys.version.split()[0]
        results["cpus"] = os.cpu_count()
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
