"""Host energy from a fake RAPL sysfs tree and a fake procfs, and the CPU power model."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from energy_support import FakeProc, FakeRapl, fresh_log_once  # noqa: F401 (an autouse fixture)
from fakes.fake_nvml import FakeClock, FakeGpu, FakeNvml

from otel_carbon.config import CarbonSettings
from otel_carbon.energy.host import (
    DEFAULT_W_PER_THREAD,
    Rapl,
    load_fraction,
    lookup_tdp,
    open_host,
)
from otel_carbon.energy.install import build_devices
from otel_carbon.energy.measured import DeviceMeter

GPU = "GPU-aaaaaaaa-0000-0000-0000-000000000000"


def host_meter(tmp_path: Path, *, rapl: bool, dram: bool = True, tdp_w: float | None = None, **proc_kw):
    proc = FakeProc(tmp_path / "proc", **proc_kw)
    sysfs = FakeRapl(tmp_path / "powercap", dram=dram) if rapl else None
    (tmp_path / "powercap").mkdir(exist_ok=True)
    host = open_host(rapl_path=tmp_path / "powercap", proc_root=proc.root, tdp_w=tdp_w, memory_w_per_gb=0.375,
                     stale_s=0.2)
    assert host is not None
    clock = FakeClock()
    return DeviceMeter([host], clock=clock, sampler=False), proc, sysfs, clock


def test_rapl_package_and_dram_attributed_by_cpu_and_memory_share(tmp_path: Path) -> None:
    meter, proc, rapl, clock = host_meter(tmp_path, rapl=True, rss_gb=2.0, mem_total_gb=64.0)
    window = meter.start()
    clock.advance(1.0)
    proc.run(busy_s=2.0, idle_s=2.0, process_s=1.0)  # this process: half the busy CPU time
    rapl.add("package-0", 50.0)
    rapl.add("core", 30.0)  # inside the package: not counted twice
    rapl.add("dram", 8.0)
    rapl.add("psys", 90.0)  # the platform domain overlaps everything: ignored
    m = window.stop()
    assert m is not None
    assert m.accelerator_j is None
    # package 50 J × CPU share 1/2 + DRAM 8 J × resident share 2/64
    assert m.host_j == pytest.approx(50.0 * 0.5 + 8.0 * 2.0 / 64.0)
    assert m.source == "rapl"


def test_rapl_without_dram_models_memory(tmp_path: Path) -> None:
    meter, proc, rapl, clock = host_meter(tmp_path, rapl=True, dram=False, rss_gb=4.0)
    window = meter.start()
    clock.advance(2.0)
    proc.run(busy_s=1.0, idle_s=7.0, process_s=1.0)
    rapl.add("package-0", 40.0)
    m = window.stop()
    assert m is not None
    assert m.host_j == pytest.approx(40.0 * 1.0 + 4.0 * 0.375 * 2.0)  # all busy time is ours; 4 GB × 0.375 W/GB
    assert m.source == "rapl+mem_model"


def test_rapl_counter_wrap_is_undone(tmp_path: Path) -> None:
    sysfs = FakeRapl(tmp_path, dram=False, max_range_uj=100_000_000)  # wraps every 100 J
    rapl = Rapl.open(tmp_path)
    assert rapl is not None
    first = rapl.read()[0]
    sysfs.add("package-0", 70.0)
    sysfs.add("package-0", 0.0)
    assert rapl.read()[0] - first == pytest.approx(70.0)
    sysfs.add("package-0", 60.0)  # 1000 µJ + 130 J wraps past 100 J
    assert rapl.read()[0] - first == pytest.approx(130.0)


def test_cpu_model_uses_tdp_table_load_curve_and_process_share(tmp_path: Path) -> None:
    meter, proc, _, clock = host_meter(tmp_path, rapl=False, rss_gb=2.0)
    window = meter.start()
    clock.advance(1.0)
    proc.run(busy_s=2.0, idle_s=2.0, process_s=1.0)  # machine load 0.5, our share 0.5
    m = window.stop()
    assert m is not None
    tdp = 270.0  # Intel Xeon Platinum 8380 in data/cpu_tdp.csv
    assert m.host_j == pytest.approx(tdp * 0.75 * 0.5 * 1.0 + 2.0 * 0.375 * 1.0)
    assert m.source == "cpu_model+mem_model"


def test_load_curve_and_tdp_lookup() -> None:
    assert load_fraction(0.0) == pytest.approx(0.12)
    assert load_fraction(0.05) == pytest.approx(0.22)
    assert load_fraction(1.0) == pytest.approx(1.02)
    assert load_fraction(3.0) == pytest.approx(1.02)
    assert lookup_tdp("Intel(R) Xeon(R) Platinum 8380 CPU @ 2.30GHz") == 270.0
    assert lookup_tdp("AMD EPYC 7763 64-Core Processor") == 280.0
    assert lookup_tdp("AMD EPYC") is None


def test_unknown_cpu_assumes_watts_per_thread(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        meter, proc, _, clock = host_meter(tmp_path, rapl=False, model="Mystery CPU 9000", cpus=8, rss_gb=0.0)
    window = meter.start()
    clock.advance(1.0)
    proc.run(busy_s=8.0, idle_s=0.0, process_s=8.0)
    m = window.stop()
    assert m is not None
    assert m.host_j == pytest.approx(DEFAULT_W_PER_THREAD * 8 * 1.02)
    assert "not in the TDP table" in caplog.text
    assert {r.levelno for r in caplog.records if "TDP" in r.getMessage()} == {logging.INFO}  # a fact, not a failure


def test_short_window_uses_the_last_interval_power(tmp_path: Path) -> None:
    meter, proc, _, clock = host_meter(tmp_path, rapl=False, tdp_w=100.0, rss_gb=0.0)
    warm = meter.start()
    clock.advance(1.0)
    proc.run(busy_s=4.0, idle_s=0.0, process_s=4.0)  # full load, all ours: 102 W
    meter.sample_now()
    short = meter.start()
    clock.advance(0.05)  # shorter than a sample period: extrapolated at 102 W
    m = short.stop()
    assert m is not None and m.host_j == pytest.approx(102.0 * 0.05 / 2)  # shared with the open window
    assert warm.stop() is not None


@pytest.mark.skipif(not hasattr(os, "geteuid"), reason="POSIX permissions")
def test_unreadable_rapl_falls_back_to_the_cpu_model(tmp_path: Path) -> None:
    """energy_uj is readable by its owner only (root, since Linux 5.10): another reader falls back.

    As root, the files are given to another owner and the reader runs without
    the capabilities that let root ignore file modes (util-linux ``setpriv``).
    """
    FakeRapl(tmp_path / "powercap", dram=False)
    command = [sys.executable, "-c",
               "import logging; logging.basicConfig(level=logging.INFO)\n"
               "from otel_carbon.energy.host import Rapl\n"
               f"print('rapl', Rapl.open({str(tmp_path / 'powercap')!r}))\n"]
    for path in (tmp_path / "powercap").rglob("energy_uj"):
        path.chmod(0o400 if os.geteuid() == 0 else 0o000)
        if os.geteuid() == 0:
            os.chown(path, 4321, 4321)
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without util-linux setpriv")
        command = [setpriv, "--bounding-set", "-dac_override,-dac_read_search", *command]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    run = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)
    assert run.returncode == 0, run.stderr
    assert "rapl None" in run.stdout
    assert "INFO:otel_carbon.energy.host:otel-carbon: RAPL at" in run.stderr and "not readable by this user" in run.stderr


def test_build_devices_puts_gpus_then_host(tmp_path: Path) -> None:
    proc = FakeProc(tmp_path / "proc")
    settings = CarbonSettings(energy_rapl_path=str(tmp_path / "none"))
    nvml = FakeNvml([FakeGpu(GPU, 300.0)], FakeClock())
    devices = build_devices(settings, nvml=nvml, environ={}, proc_root=str(proc.root))
    assert [d.info.hw_id for d in devices] == [GPU, "host"]
    devices = build_devices(settings, nvml=nvml, environ={"CUDA_VISIBLE_DEVICES": ""}, proc_root=str(proc.root))
    assert [d.info.role for d in devices] == ["host"]


def test_gpu_and_host_in_one_window(tmp_path: Path) -> None:
    proc = FakeProc(tmp_path / "proc", rss_gb=0.0)
    clock = FakeClock()
    settings = CarbonSettings(energy_rapl_path=str(tmp_path / "none"), energy_cpu_tdp_w=100.0)
    devices = build_devices(settings, nvml=FakeNvml([FakeGpu(GPU, 300.0)], clock), environ={}, proc_root=str(proc.root))
    meter = DeviceMeter(devices, clock=clock, sampler=False)
    window = meter.start()
    clock.advance(1.0)
    proc.run(busy_s=4.0, idle_s=0.0, process_s=4.0)
    m = window.stop(tokens=5)
    assert m is not None
    assert m.accelerator_j == pytest.approx(300.0)
    assert m.host_j == pytest.approx(102.0)
    assert m.source == "cpu_model+mem_model+nvml.counter"
