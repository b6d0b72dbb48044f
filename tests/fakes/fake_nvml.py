"""A pynvml-compatible fake NVML with deterministic devices, for the energy meter's tests.

An instance stands in for the ``pynvml`` module: the same function names,
``NVMLError`` with a ``.value`` code, and the ``NVML_ERROR_*`` constants (the
real values from nvml.h).  Each :class:`FakeGpu` draws a constant power
(changeable with :meth:`FakeGpu.set_power`) on a shared :class:`FakeClock`,
so its energy is exactly the integral of that power; the energy counter (mJ)
only moves every ``update_s`` seconds, like the real one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field


class FakeClock:
    """A monotonic clock the test moves by hand (s)."""

    def __init__(self, t: float = 1000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


NVML_SUCCESS = 0
NVML_ERROR_UNINITIALIZED = 1
NVML_ERROR_INVALID_ARGUMENT = 2
NVML_ERROR_NOT_SUPPORTED = 3
NVML_ERROR_NO_PERMISSION = 4
NVML_ERROR_NOT_FOUND = 6
NVML_ERROR_DRIVER_NOT_LOADED = 9
NVML_ERROR_LIBRARY_NOT_FOUND = 12
NVML_ERROR_FUNCTION_NOT_FOUND = 13
NVML_ERROR_GPU_IS_LOST = 15
NVML_ERROR_UNKNOWN = 999
NVML_DEVICE_MIG_DISABLE = 0
NVML_DEVICE_MIG_ENABLE = 1


class NVMLError(Exception):
    def __init__(self, value: int) -> None:
        super().__init__(f"NVML error {value}")
        self.value = value


@dataclass
class FakeGpu:
    """One fake GPU. Energy in J, power in W, times on the shared clock."""

    uuid: str
    power_w: float
    name: str = "NVIDIA Fake GPU"
    counter: bool = True  # nvmlDeviceGetTotalEnergyConsumption supported
    power: bool = True  # nvmlDeviceGetPowerUsage supported
    update_s: float = 0.125  # the counter's update period (a binary fraction: exact sums in tests)
    counter_offset_mj: int = 123_456_789  # energy since driver load before the test began
    mig_mode: bool = False
    mig_instances: tuple[str, ...] = ()
    counter_error: int | None = None  # e.g. NVML_ERROR_NO_PERMISSION from the energy counter
    power_error: int | None = None  # … from the power reading
    binding_error: Exception | None = None  # raised as is by every query: a binding that misbehaves
    lost: bool = False
    counter_reset_at: float | None = None
    _segments: list[tuple[float, float]] = field(default_factory=list)  # (start time, power W)
    calls: int = 0

    def set_power(self, t: float, power_w: float) -> None:
        """From ``t`` on the GPU draws ``power_w``."""
        self._segments.append((t, power_w))

    def energy_j(self, t: float, since: float = -math.inf) -> float:
        """Exact energy used between ``since`` and ``t`` (from the first power segment on)."""
        total = 0.0
        segments = self._segments
        for i, (start, power) in enumerate(segments):
            end = segments[i + 1][0] if i + 1 < len(segments) else math.inf
            lo, hi = max(start, since), min(end, t)
            if hi > lo:
                total += power * (hi - lo)
        return total

    def power_at(self, t: float) -> float:
        current = self._segments[0][1]
        for start, power in self._segments:
            if start <= t:
                current = power
        return current


class FakeNvml:
    """Stands in for the ``pynvml`` module (pass it where the meter takes ``nvml``)."""

    NVMLError = NVMLError

    def __init__(self, gpus: list[FakeGpu], clock: FakeClock, *, init_error: int | None = None) -> None:
        self.gpus = gpus
        self.clock = clock
        self.init_error = init_error
        self.initialised = False
        for gpu in gpus:
            gpu.set_power(0.0, gpu.power_w)
        for name, value in globals().items():
            if name.startswith("NVML_"):
                setattr(self, name, value)

    # --- library ---------------------------------------------------------------------

    def nvmlInit(self) -> None:
        if self.init_error is not None:
            raise NVMLError(self.init_error)
        self.initialised = True

    def nvmlShutdown(self) -> None:
        self.initialised = False

    def nvmlDeviceGetCount(self) -> int:
        self._check_init()
        return len(self.gpus)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> FakeGpu:
        self._check_init()
        if not 0 <= index < len(self.gpus):
            raise NVMLError(NVML_ERROR_INVALID_ARGUMENT)
        return self.gpus[index]

    def nvmlDeviceGetHandleByUUID(self, uuid: str | bytes) -> object:
        self._check_init()
        uuid = uuid.decode() if isinstance(uuid, bytes) else uuid
        for gpu in self.gpus:
            if gpu.uuid == uuid:
                return gpu
            if uuid in gpu.mig_instances:
                return ("mig", gpu, uuid)
        raise NVMLError(NVML_ERROR_NOT_FOUND)

    def nvmlDeviceGetDeviceHandleFromMigDeviceHandle(self, handle: object) -> FakeGpu:
        if isinstance(handle, tuple) and handle[0] == "mig":
            return handle[1]
        raise NVMLError(NVML_ERROR_INVALID_ARGUMENT)

    # --- device queries ---------------------------------------------------------------

    def nvmlDeviceGetUUID(self, gpu: FakeGpu) -> str:
        return self._live(gpu).uuid

    def nvmlDeviceGetName(self, gpu: FakeGpu) -> str:
        return self._live(gpu).name

    def nvmlDeviceGetMigMode(self, gpu: FakeGpu) -> list[int]:
        self._live(gpu)
        mode = NVML_DEVICE_MIG_ENABLE if gpu.mig_mode else NVML_DEVICE_MIG_DISABLE
        return [mode, mode]

    def nvmlDeviceGetTotalEnergyConsumption(self, gpu: FakeGpu) -> int:
        self._live(gpu)
        if not gpu.counter or gpu.counter_error is not None:
            raise NVMLError(gpu.counter_error or NVML_ERROR_NOT_SUPPORTED)
        t = math.floor(self.clock() / gpu.update_s) * gpu.update_s  # the counter moves in steps
        if gpu.counter_reset_at is not None and t >= gpu.counter_reset_at:
            return int(gpu.energy_j(t, since=gpu.counter_reset_at) * 1000.0)  # restarted from 0
        return gpu.counter_offset_mj + int(gpu.energy_j(t) * 1000.0)

    def nvmlDeviceGetPowerUsage(self, gpu: FakeGpu) -> int:
        self._live(gpu)
        if not gpu.power or gpu.power_error is not None:
            raise NVMLError(gpu.power_error or NVML_ERROR_NOT_SUPPORTED)
        return int(round(gpu.power_at(self.clock()) * 1000.0))

    # --- helpers ----------------------------------------------------------------------

    def _check_init(self) -> None:
        if not self.initialised:
            raise NVMLError(NVML_ERROR_UNINITIALIZED)

    def _live(self, gpu: FakeGpu) -> FakeGpu:
        self._check_init()
        gpu.calls += 1
        if gpu.binding_error is not None:
            raise gpu.binding_error
        if gpu.lost:
            raise NVMLError(NVML_ERROR_GPU_IS_LOST)
        return gpu
