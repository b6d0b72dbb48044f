"""Host CPU and memory energy of this process: RAPL where readable, else a CPU power model.

Every sample interval (the background sampler, or a window boundary when the
sampler is late) the host device computes:

* machine CPU energy: the RAPL ``package`` domains' ``energy_uj`` delta
  (wraps at ``max_energy_range_uj`` handled), or ``TDP × load_curve(u)`` × Δt
  with ``u`` the machine's busy share of CPU time from ``/proc/stat``;
* this process's share ``s`` = its CPU time (``/proc/self/stat``) over the
  machine's busy CPU time in the interval (clamped to [0, 1]);
* memory: the RAPL ``dram`` delta × (resident memory / ``MemTotal``), or
  resident GB × W/GB where RAPL has no DRAM domain.

Attributed host energy = CPU energy × ``s`` + memory energy.  Units: J, W, s.
"""

from __future__ import annotations

import csv
import logging
import os
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from itertools import pairwise
from pathlib import Path
from typing import TypeVar

from otel_carbon._log import log_once
from otel_carbon.energy.device import (
    HOST,
    DeviceInfo,
    Energy,
    HwReading,
    Mark,
    PowerIntegral,
)

logger = logging.getLogger(__name__)
T = TypeVar("T")

#: Fraction of TDP drawn at CPU load 0, 0.1, 0.5, 1 (Teads Engineering, from SPECpower_ssj2008).
LOAD_CURVE: tuple[tuple[float, float], ...] = ((0.0, 0.12), (0.1, 0.32), (0.5, 0.75), (1.0, 1.02))
#: TDP per logical CPU when the CPU model is not in the table, W (CodeCarbon's default).
DEFAULT_W_PER_THREAD = 4.0


# --- /proc ---------------------------------------------------------------------------


class ProcStats:
    """CPU time and memory from a procfs tree (``/proc``, or a fake one in tests)."""

    def __init__(self, root: str | Path = "/proc") -> None:
        self.root = Path(root)
        self._tick = float(os.sysconf("SC_CLK_TCK")) if hasattr(os, "sysconf") else 100.0
        self._page = float(os.sysconf("SC_PAGE_SIZE")) if hasattr(os, "sysconf") else 4096.0

    def machine_cpu_s(self) -> tuple[float, float]:
        """(busy, total) CPU seconds over all CPUs since boot: the ``cpu`` line of ``stat``."""
        with open(self.root / "stat", "rb") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
        total = sum(fields[:8])  # user nice system idle iowait irq softirq steal (guest is inside user)
        return (total - idle) / self._tick, total / self._tick

    def process_cpu_s(self) -> float:
        """This process's user + system CPU seconds (``self/stat`` fields 14 and 15)."""
        with open(self.root / "self" / "stat", "rb") as f:
            text = f.read()
        rest = text[text.rindex(b")") + 2:].split()  # fields after "(comm)", starting at field 3
        return (int(rest[11]) + int(rest[12])) / self._tick

    def rss_gb(self) -> float:
        """This process's resident memory, GB (``self/statm`` field 2 × page size)."""
        with open(self.root / "self" / "statm", "rb") as f:
            return int(f.read().split()[1]) * self._page / 1e9

    def mem_total_gb(self) -> float:
        with open(self.root / "meminfo", "rb") as f:
            for line in f:
                if line.startswith(b"MemTotal:"):
                    return int(line.split()[1]) * 1024 / 1e9
        raise ValueError("MemTotal missing")

    def cpu_model(self) -> tuple[str, int, int]:
        """(model name, sockets, logical CPUs) from ``cpuinfo``."""
        name, sockets, threads = "", set(), 0
        with open(self.root / "cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "processor":
                    threads += 1
                elif key == "model name" and not name:
                    name = value.strip()
                elif key == "physical id":
                    sockets.add(value.strip())
        return name, max(len(sockets), 1), max(threads, 1)


# --- RAPL ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RaplDomain:
    path: Path
    name: str  # package-0, dram, …
    hw_type: str  # cpu | memory
    max_range_uj: int


class Rapl:
    """Readable RAPL ``package`` and ``dram`` domains under a powercap root.

    ``read()`` returns cumulative joules per domain since the first read,
    with counter wraps undone (one wrap per interval at most; at 250 W a
    32-bit-µJ-range counter wraps every ~17 min, far longer than a sample).
    """

    def __init__(self, domains: list[RaplDomain]) -> None:
        self.domains = domains
        self._lock = threading.Lock()  # the sampler and the metrics reader both read
        self._last: list[int | None] = [None] * len(domains)
        self.total_j = [0.0] * len(domains)

    @classmethod
    def open(cls, root: str | Path) -> Rapl | None:
        """The readable domains under ``root``; ``None`` (logged once) when there are none."""
        base = Path(root)
        domains: list[RaplDomain] = []
        try:
            candidates = sorted(p for p in base.glob("intel-rapl:*") if p.is_dir())
            candidates += sorted(p for p in base.glob("intel-rapl:*/intel-rapl:*:*") if p.is_dir())
        except OSError:
            candidates = []
        for path in candidates:
            try:
                name = (path / "name").read_text().strip()
                kind = "cpu" if name.startswith("package") else "memory" if name == "dram" else None
                if kind is None:
                    continue  # core/uncore are inside package; psys overlaps
                int((path / "energy_uj").read_text())
                max_range = int((path / "max_energy_range_uj").read_text())
            except PermissionError:
                log_once(logger, "rapl.permission", "otel-carbon: RAPL at %s is not readable by this user "
                         "(energy_uj is root-only since Linux 5.10); using the CPU power model", base,
                         level=logging.INFO)
                return None
            except (OSError, ValueError):
                continue
            domains.append(RaplDomain(path, name, kind, max_range))
        if not any(d.hw_type == "cpu" for d in domains):
            return None
        return cls(domains)

    def read(self) -> list[float]:
        """Cumulative J per domain (same order as ``domains``) since the first read."""
        with self._lock:
            for i, domain in enumerate(self.domains):
                with open(domain.path / "energy_uj", "rb") as f:
                    value = int(f.read())
                last = self._last[i]
                if last is not None:
                    delta = value - last
                    if delta < 0:  # wrapped
                        delta += domain.max_range_uj
                    self.total_j[i] += delta / 1e6
                self._last[i] = value
            return list(self.total_j)


# --- CPU power model -------------------------------------------------------------------


def load_fraction(load: float) -> float:
    """Fraction of TDP drawn at CPU ``load`` in [0, 1]: piecewise-linear :data:`LOAD_CURVE`."""
    load = min(max(load, 0.0), 1.0)
    for (x0, y0), (x1, y1) in pairwise(LOAD_CURVE):
        if load <= x1:
            return y0 + (y1 - y0) * (load - x0) / (x1 - x0)
    return LOAD_CURVE[-1][1]


@lru_cache(maxsize=1)
def _tdp_table() -> dict[str, float]:
    text = resources.files("otel_carbon").joinpath("data/cpu_tdp.csv").read_text(encoding="utf-8")
    return {_normalise(row["name"]): float(row["tdp_w"]) for row in csv.DictReader(text.splitlines())}


def _normalise(name: str) -> str:
    name = re.sub(r"\((R|TM|tm|r)\)", " ", name)
    name = re.sub(r"@.*$", " ", name)
    name = re.sub(r"\b(CPU|Processor|\d+-Core)\b", " ", name)
    return " ".join(name.lower().split())


def lookup_tdp(model_name: str) -> float | None:
    """TDP (W per package) of the longest table name contained in ``model_name`` as whole words."""
    wanted = f" {_normalise(model_name)} "
    best: tuple[int, float] | None = None
    for name, tdp in _tdp_table().items():
        if f" {name} " in wanted and (best is None or len(name) > best[0]):
            best = (len(name), tdp)
    return None if best is None else best[1]


# --- the host device ---------------------------------------------------------------------


class HostDevice:
    """This process's host energy clock (see module docstring). Thread-safe; never raises."""

    def __init__(self, proc: ProcStats, *, rapl: Rapl | None, tdp_w: float, memory_w_per_gb: float,
                 stale_s: float, name: str = "host") -> None:
        self.info = DeviceInfo("host", "cpu", name, HOST)
        self._proc = proc
        self._rapl = rapl
        #: CPU power at full load (TDP, W) used by the model where RAPL is not readable.
        self.tdp_w = tdp_w
        self._memory_w_per_gb = memory_w_per_gb
        self._stale_s = stale_s
        self._integral = PowerIntegral()
        self._lock = threading.Lock()
        self._prev: tuple[float, float, float, list[float]] | None = None  # busy, total, process, rapl J
        self._failed = False
        has_dram = rapl is not None and any(d.hw_type == "memory" for d in rapl.domains)
        self._method = ("rapl" if rapl is not None else "cpu_model") + ("" if has_dram else "+mem_model")
        self._mem_total_gb = self._safe(proc.mem_total_gb) if has_dram else None

    def _safe(self, fn: Callable[[], T]) -> T | None:
        """``fn()``, or ``None`` after logging once and marking the host failed."""
        try:
            return fn()
        except Exception as exc:
            self._failed = True
            log_once(logger, "host.read", "otel-carbon: host energy unavailable: %r", exc)
            return None

    def sample(self, now: float) -> None:
        with self._lock:  # the sampler thread, and a boundary that finds the sampler late
            self._sample(now)

    def _sample(self, now: float) -> None:
        if self._failed:
            return
        reading = self._safe(lambda: (*self._proc.machine_cpu_s(), self._proc.process_cpu_s(),
                                      self._rapl.read() if self._rapl is not None else []))
        if reading is None:
            return
        busy, total, process, rapl_j = reading
        prev, self._prev = self._prev, (busy, total, process, rapl_j)
        last_t = self._integral.last_sample_at()
        rss_gb = self._safe(self._proc.rss_gb) or 0.0
        if prev is None:
            # The first sample: CPU use needs a second one, but the modelled memory power is known
            # now, and is held until then (a window opened right away would otherwise read 0 J).
            self._integral.add(now, rss_gb * self._memory_w_per_gb if "mem_model" in self._method else 0.0)
            return
        if last_t is None or now <= last_t:
            self._integral.add_energy(now, 0.0)
            return
        dt = now - last_t
        d_busy, d_total, d_process = busy - prev[0], total - prev[1], process - prev[2]
        share = min(d_process / d_busy, 1.0) if d_busy > 0 else (1.0 if d_process > 0 else 0.0)
        cpu_j = memory_j = 0.0
        if self._rapl is not None:
            for domain, now_j, then_j in zip(self._rapl.domains, rapl_j, prev[3]):
                if domain.hw_type == "cpu":
                    cpu_j += now_j - then_j
                elif self._mem_total_gb:
                    memory_j += (now_j - then_j) * min(rss_gb / self._mem_total_gb, 1.0)
        else:
            load = d_busy / d_total if d_total > 0 else 0.0
            cpu_j = self.tdp_w * load_fraction(load) * dt
        if "mem_model" in self._method:
            memory_j = rss_gb * self._memory_w_per_gb * dt
        self._integral.add_energy(now, cpu_j * share + memory_j)

    def mark(self, now: float) -> Mark:
        last = self._integral.last_sample_at()
        if last is None or now - last > self._stale_s:
            self.sample(now)
        return Mark(now, None, None if self._failed else self._integral.value_at(now))

    def energy_between(self, start: Mark, end: Mark) -> Energy | None:
        if start.integral_j is None or end.integral_j is None:
            return None
        return Energy(max(end.integral_j - start.integral_j, 0.0), self._method)

    def issues(self) -> tuple[str, ...]:
        return ("host:failed",) if self._failed else ()

    def hw_readings(self) -> list[HwReading]:
        """RAPL domains only (machine-wide, measured); a modelled CPU exports no ``hw.*`` metrics."""
        if self._rapl is None or self._failed:
            return []
        totals = self._safe(self._rapl.read)
        if totals is None:
            return []
        return [HwReading(f"rapl:{d.path.name}", d.hw_type, d.name, j, None)
                for d, j in zip(self._rapl.domains, totals)]


def open_host(*, rapl_path: str | Path, proc_root: str | Path = "/proc", tdp_w: float | None = None,
              memory_w_per_gb: float, stale_s: float) -> HostDevice | None:
    """The host device: RAPL if readable, else the CPU model; ``None`` where ``/proc`` is unreadable."""
    proc = ProcStats(proc_root)
    try:
        proc.machine_cpu_s()
        proc.process_cpu_s()
        model, sockets, threads = proc.cpu_model()
    except (OSError, ValueError, IndexError) as exc:
        log_once(logger, "host.proc", "otel-carbon: no host energy: %s unreadable (%r)", proc_root, exc)
        return None
    rapl = Rapl.open(rapl_path)
    if tdp_w is None:
        per_package = lookup_tdp(model)
        tdp_w = per_package * sockets if per_package is not None else DEFAULT_W_PER_THREAD * threads
        if rapl is None and per_package is None:
            log_once(logger, "host.tdp", "otel-carbon: CPU %r not in the TDP table; assuming %.0f W "
                     "(%.0f W per logical CPU)", model, tdp_w, DEFAULT_W_PER_THREAD, level=logging.INFO)
    return HostDevice(proc, rapl=rapl, tdp_w=tdp_w, memory_w_per_gb=memory_w_per_gb, stale_s=stale_s,
                      name=model or "host")
