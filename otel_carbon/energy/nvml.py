"""NVIDIA GPUs through NVML: the total-energy counter, with sampled power as the fallback.

The NVML module is passed in (``pynvml`` in production, a compatible fake in
tests), so nothing here imports it.  Errors are ``nvml.NVMLError`` with a
``.value`` code compared against ``nvml.NVML_ERROR_*``.

Per interval between two marks (see :meth:`NvmlGpu.energy_between`):

* the counter (``nvmlDeviceGetTotalEnergyConsumption``, mJ since driver load,
  Volta and later) is used when both marks have it, it did not go backwards
  (driver reload, GPU reset or wrap) and the interval is at least
  ``counter_min_s`` long (the counter updates about every 100 ms);
* otherwise the integral of ``nvmlDeviceGetPowerUsage`` samples (mW) taken by
  the background sampler.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from otel_carbon._log import log_once
from otel_carbon.energy.device import (
    ACCELERATOR,
    DeviceInfo,
    Energy,
    HwReading,
    Mark,
    PowerIntegral,
)

logger = logging.getLogger(__name__)

#: The energy counter's update period on current GPUs, s: shorter intervals use integrated power.
COUNTER_MIN_S = 0.1

_LOST_CODES = ("NVML_ERROR_GPU_IS_LOST", "NVML_ERROR_UNKNOWN", "NVML_ERROR_UNINITIALIZED")


def _code_in(nvml: Any, error: Exception, names: tuple[str, ...]) -> bool:
    value = getattr(error, "value", None)
    return any(getattr(nvml, name, object()) == value for name in names)


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


class NvmlGpu:
    """One physical GPU's energy clock (see module docstring). Thread-safe; never raises."""

    def __init__(self, nvml: ModuleType, handle: Any, info: DeviceInfo, *, mig: bool = False,
                 counter_min_s: float = COUNTER_MIN_S) -> None:
        self._nvml = nvml
        self._handle = handle
        self.info = info
        self._mig = mig
        self._counter_min_s = counter_min_s
        self._counter_ok = True
        self._power_ok = True
        self._lost = False
        self._power = PowerIntegral()
        self._counter_fn = nvml.nvmlDeviceGetTotalEnergyConsumption
        self._metric_lock = threading.Lock()
        self._metric_total_j = 0.0  # hw.energy: counter deltas summed across resets
        self._metric_last_mj: int | None = None

    # --- reading -----------------------------------------------------------------

    def _failure(self, what: str, exc: Exception) -> None:
        """Record why a ``what`` (``counter`` / ``power``) read failed, logging it once."""
        if isinstance(exc, self._nvml.NVMLError) and not _code_in(self._nvml, exc, _LOST_CODES):
            if what == "counter":
                self._counter_ok = False
            else:
                self._power_ok = False
            log_once(logger, f"nvml.{what}.{self.info.hw_id}",
                     "otel-carbon: GPU %s: NVML %s unavailable (%s)", self.info.hw_id, what, exc)
            return
        self._lost = True  # GPU_IS_LOST, UNKNOWN, or a broken binding: stop reading this GPU
        log_once(logger, f"nvml.lost.{self.info.hw_id}",
                 "otel-carbon: GPU %s lost (%r); its energy is no longer measured", self.info.hw_id, exc)

    def _call(self, what: str, fn: Any) -> Any:
        """Call an NVML getter; on failure record why and return ``None``."""
        try:
            return fn(self._handle)
        except Exception as exc:  # nothing from the binding may reach the app
            self._failure(what, exc)
            return None

    def _read_counter_mj(self) -> int | None:
        """The energy counter (mJ), or ``None``; the hot path of every window boundary."""
        if self._lost or not self._counter_ok:
            return None
        try:
            return int(self._counter_fn(self._handle))
        except Exception as exc:
            self._failure("counter", exc)
            return None

    def mark(self, now: float) -> Mark:
        counter = self._read_counter_mj()
        power = self._power
        if power.samples == 0 and not self._lost:
            self.sample(now)  # the first window on this meter: take a baseline power sample
        return Mark(now, None if counter is None else counter / 1000.0, None if self._lost else power.value_at(now))

    def sample(self, now: float) -> None:
        if self._lost or not self._power_ok:
            return
        milliwatts = self._call("power", self._nvml.nvmlDeviceGetPowerUsage)
        if milliwatts is not None:
            self._power.add(now, milliwatts / 1000.0)

    def energy_between(self, start: Mark, end: Mark) -> Energy | None:
        delta: float | None = None
        if start.counter_j is not None and end.counter_j is not None:
            delta = end.counter_j - start.counter_j
            if delta < 0:
                delta = None
                log_once(logger, f"nvml.backwards.{self.info.hw_id}",
                         "otel-carbon: GPU %s energy counter went backwards (reset or wrap); "
                         "using integrated power for that interval", self.info.hw_id)
            elif end.t - start.t >= self._counter_min_s:
                return Energy(delta, "nvml.counter")
        if start.integral_j is not None and end.integral_j is not None:
            return Energy(max(end.integral_j - start.integral_j, 0.0), "nvml.power")
        if delta is not None:  # a short interval on a GPU without power readings: the counter as it is
            return Energy(delta, "nvml.counter")
        return None

    def probe(self) -> bool:
        """Find out which readings this GPU supports; whether it can be measured at all."""
        self._read_counter_mj()
        if self._power_ok and not self._lost:
            self._call("power", self._nvml.nvmlDeviceGetPowerUsage)
        return not self._lost and (self._counter_ok or self._power_ok)

    def issues(self) -> tuple[str, ...]:
        notes = []
        if self._lost:
            notes.append(f"{self.info.hw_id}:lost")
        if self._mig:
            notes.append(f"{self.info.hw_id}:mig-shared")
        if not self._counter_ok:
            notes.append(f"{self.info.hw_id}:no-counter")
        return tuple(notes)

    def hw_readings(self) -> list[HwReading]:
        if self._lost:
            return []
        counter = self._read_counter_mj()
        with self._metric_lock:
            if counter is not None:
                last, self._metric_last_mj = self._metric_last_mj, counter
                if last is not None and counter >= last:
                    self._metric_total_j += (counter - last) / 1000.0
            energy = self._metric_total_j if self._metric_last_mj is not None and self._counter_ok else None
        power = self._call("power", self._nvml.nvmlDeviceGetPowerUsage) if self._power_ok else None
        return [HwReading(self.info.hw_id, "gpu", self.info.name, energy,
                          None if power is None else power / 1000.0)]


# --- which GPUs: CUDA_VISIBLE_DEVICES ------------------------------------------------


@dataclass(frozen=True)
class VisibleEntry:
    """One ``CUDA_VISIBLE_DEVICES`` entry: an index, a ``GPU-`` UUID (prefix) or a ``MIG-`` UUID."""

    index: int | None = None
    uuid: str | None = None


def parse_visible_devices(value: str | None) -> list[VisibleEntry] | None:
    """Parse ``CUDA_VISIBLE_DEVICES``; ``None`` = unset (all devices), ``[]`` = none visible.

    As in CUDA, parsing stops at the first invalid entry (a negative index
    such as ``-1`` hides every device after it).
    """
    if value is None:
        return None
    entries: list[VisibleEntry] = []
    for raw in value.split(","):
        item = raw.strip()
        if item.isdigit():
            entries.append(VisibleEntry(index=int(item)))
        elif item.startswith(("GPU-", "MIG-")):
            entries.append(VisibleEntry(uuid=item))
        else:
            break
    return entries


def discover_gpus(nvml: ModuleType, visible: str | None, *, counter_min_s: float = COUNTER_MIN_S) -> list[NvmlGpu]:
    """Initialise NVML and return the GPUs this process may use; ``[]`` (logged once) where none.

    Indices in ``CUDA_VISIBLE_DEVICES`` are taken in NVML (PCI bus) order, which is
    CUDA's order with ``CUDA_DEVICE_ORDER=PCI_BUS_ID`` or on identical GPUs.  A
    ``MIG-`` entry is measured on its parent GPU (NVML has no per-instance
    energy), flagged ``mig-shared``.
    """
    try:
        nvml.nvmlInit()
        count = int(nvml.nvmlDeviceGetCount())
        handles = [nvml.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
        uuids = [_text(nvml.nvmlDeviceGetUUID(h)) for h in handles]
    except nvml.NVMLError as exc:
        log_once(logger, "nvml.init", "otel-carbon: no GPU energy measurement: NVML unavailable (%s)", exc,
                 level=logging.INFO)
        return []
    except Exception as exc:
        log_once(logger, "nvml.init", "otel-carbon: no GPU energy measurement: NVML failed (%r)", exc)
        return []
    chosen: list[tuple[int, bool]] = []  # (index, reached through a MIG entry)
    entries = parse_visible_devices(visible)
    if entries is None:
        chosen = [(i, False) for i in range(count)]
    for entry in entries or ():
        index = _resolve(nvml, entry, handles, uuids)
        if index is None:
            log_once(logger, f"nvml.visible.{entry}", "otel-carbon: CUDA_VISIBLE_DEVICES entry %s matches no GPU", entry)
            break
        if all(index != c[0] for c in chosen):
            chosen.append((index, bool(entry.uuid and entry.uuid.startswith("MIG-"))))
    gpus = []
    for index, via_mig in chosen:
        gpu = _open(nvml, handles[index], uuids[index], via_mig, counter_min_s)
        if gpu is not None:
            gpus.append(gpu)
    return gpus


def _resolve(nvml: ModuleType, entry: VisibleEntry, handles: list[Any], uuids: list[str]) -> int | None:
    if entry.index is not None:
        return entry.index if entry.index < len(handles) else None
    assert entry.uuid is not None
    if entry.uuid.startswith("GPU-"):
        matches = [i for i, u in enumerate(uuids) if u.startswith(entry.uuid)]
        return matches[0] if len(matches) == 1 else None
    try:  # MIG-<uuid>: the parent GPU of the instance
        parent = nvml.nvmlDeviceGetDeviceHandleFromMigDeviceHandle(nvml.nvmlDeviceGetHandleByUUID(entry.uuid))
        parent_uuid = _text(nvml.nvmlDeviceGetUUID(parent))
    except Exception:
        return None
    return uuids.index(parent_uuid) if parent_uuid in uuids else None


def _open(nvml: ModuleType, handle: Any, uuid: str, via_mig: bool, counter_min_s: float) -> NvmlGpu | None:
    try:
        name = _text(nvml.nvmlDeviceGetName(handle))
    except Exception:
        name = "NVIDIA GPU"
    mig = via_mig
    try:
        mig = mig or nvml.nvmlDeviceGetMigMode(handle)[0] == nvml.NVML_DEVICE_MIG_ENABLE
    except Exception:
        pass  # MIG not supported on this GPU
    if mig:
        log_once(logger, f"nvml.mig.{uuid}", "otel-carbon: GPU %s is in MIG mode: its energy is the whole GPU's, "
                 "shared with every MIG instance on it", uuid)
    gpu = NvmlGpu(nvml, handle, DeviceInfo(uuid, "gpu", name, ACCELERATOR), mig=mig, counter_min_s=counter_min_s)
    if not gpu.probe():
        log_once(logger, f"nvml.unmeasurable.{uuid}", "otel-carbon: GPU %s reports neither energy nor power", uuid)
        return None
    return gpu
