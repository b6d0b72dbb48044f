"""Shared fixtures of the energy tests: a fake procfs and RAPL sysfs tree, meters on a fake clock."""

from __future__ import annotations

from pathlib import Path

import pytest
from fakes.fake_nvml import FakeClock, FakeGpu, FakeNvml

from otel_carbon import _log
from otel_carbon.energy.measured import DeviceMeter
from otel_carbon.energy.nvml import discover_gpus

TICK = 100  # USER_HZ on Linux


def gpu_meter(gpus: list[FakeGpu], *, visible: str | None = None, attribution: str = "time",
              clock: FakeClock | None = None) -> tuple[DeviceMeter, FakeNvml, FakeClock]:
    """A meter over fake GPUs only, sampled by hand (no thread)."""
    clock = clock or FakeClock()
    nvml = FakeNvml(gpus, clock)
    devices = discover_gpus(nvml, visible)
    return DeviceMeter(devices, attribution=attribution, clock=clock, sampler=False), nvml, clock


class FakeProc:
    """A procfs tree in a temporary folder whose CPU counters a test moves (in seconds)."""

    def __init__(self, root: Path, *, cpus: int = 4, model: str = "Intel(R) Xeon(R) Platinum 8380 CPU @ 2.30GHz",
                 rss_gb: float = 2.0, mem_total_gb: float = 64.0) -> None:
        self.root = root
        self.busy_s = 0.0
        self.idle_s = 0.0
        self.process_s = 0.0
        (root / "self").mkdir(parents=True)
        (root / "cpuinfo").write_text("".join(
            f"processor\t: {i}\nmodel name\t: {model}\nphysical id\t: 0\n\n" for i in range(cpus)))
        (root / "meminfo").write_text(f"MemTotal:       {int(mem_total_gb * 1e9 / 1024)} kB\n")
        import os
        pages = int(rss_gb * 1e9 / os.sysconf("SC_PAGE_SIZE"))
        (root / "self" / "statm").write_text(f"{pages * 2} {pages} 100 10 0 50 0\n")
        self.write()

    def run(self, *, busy_s: float, idle_s: float, process_s: float) -> None:
        """Account CPU time: machine busy and idle seconds (all CPUs), this process's seconds."""
        self.busy_s += busy_s
        self.idle_s += idle_s
        self.process_s += process_s
        self.write()

    def write(self) -> None:
        busy, idle, proc = (round(x * TICK) for x in (self.busy_s, self.idle_s, self.process_s))
        (self.root / "stat").write_text(f"cpu  {busy} 0 0 {idle} 0 0 0 0 0 0\ncpu0 {busy} 0 0 {idle} 0 0 0 0 0 0\n")
        user = proc // 2
        fields = ["S", "1", "1", "1", "0", "-1", "0", "0", "0", "0", "0", str(user), str(proc - user)] + ["0"] * 30
        (self.root / "self" / "stat").write_text(f"4242 (python (x) 3) {' '.join(fields)}\n")


class FakeRapl:
    """A powercap tree with package domains and (optionally) DRAM, counters in µJ."""

    def __init__(self, root: Path, *, packages: int = 1, dram: bool = True, max_range_uj: int = 2**32) -> None:
        self.root = root
        self.domains: dict[str, Path] = {}
        for p in range(packages):
            pkg = root / f"intel-rapl:{p}"
            self._domain(pkg, f"package-{p}", max_range_uj)
            self._domain(pkg / f"intel-rapl:{p}:0", "core", max_range_uj)
            if dram:
                self._domain(pkg / f"intel-rapl:{p}:1", "dram", max_range_uj)
        self._domain(root / f"intel-rapl:{packages}", "psys", max_range_uj)
        self.max_range_uj = max_range_uj

    def _domain(self, path: Path, name: str, max_range: int) -> None:
        path.mkdir(parents=True)
        (path / "name").write_text(name + "\n")
        (path / "energy_uj").write_text("1000\n")
        (path / "max_energy_range_uj").write_text(f"{max_range}\n")
        self.domains[name] = path

    def add(self, name: str, joules: float) -> None:
        """Move domain ``name``'s counter on by ``joules`` (wrapping like the hardware)."""
        path = self.domains[name] / "energy_uj"
        value = (int(path.read_text()) + round(joules * 1e6)) % self.max_range_uj
        path.write_text(f"{value}\n")


@pytest.fixture(autouse=True)
def fresh_log_once():
    """Each test sees its own first warnings: ``log_once`` remembers keys process-wide."""
    _log._seen.clear()
    yield
