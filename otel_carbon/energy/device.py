"""What the meter needs from one measured device, and power integration shared by devices.

A device exposes an *energy clock*: :meth:`Device.mark` reads it at a window
boundary, and :meth:`Device.energy_between` turns two marks into joules and
the method used.  :meth:`Device.sample` is called by the one background
sampler while windows are open.  All energy is in J, power in W, time in
seconds of the meter's monotonic clock.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Protocol

#: ``DeviceInfo.role`` values: which ``Measurement`` field a device adds to.
ACCELERATOR = "accelerator"
HOST = "host"


@dataclass(frozen=True)
class DeviceInfo:
    """Identity of a measured device, as the OpenTelemetry hardware conventions name it.

    ``hw_id`` is stable (a GPU UUID, ``host``); ``hw_type`` is ``gpu`` or
    ``cpu``; ``role`` is :data:`ACCELERATOR` or :data:`HOST`.
    """

    hw_id: str
    hw_type: str
    name: str
    role: str


class Mark:
    """A device's energy clock read at time ``t`` (a plain slotted class: made at every boundary).

    ``counter_j`` is a hardware energy counter (J, ``None`` where there is
    none or it failed); ``integral_j`` is the running integral of sampled
    power (J, ``None`` before any sample).
    """

    __slots__ = ("counter_j", "integral_j", "t")

    def __init__(self, t: float, counter_j: float | None, integral_j: float | None) -> None:
        self.t = t
        self.counter_j = counter_j
        self.integral_j = integral_j


@dataclass(frozen=True, slots=True)
class Energy:
    """Joules between two marks and how they were obtained (e.g. ``nvml.counter``)."""

    joules: float
    method: str


@dataclass(frozen=True)
class HwReading:
    """One metric point for ``hw.energy`` / ``hw.power``: a component of a device."""

    hw_id: str
    hw_type: str
    name: str
    energy_j: float | None
    power_w: float | None


class Device(Protocol):
    info: DeviceInfo

    def mark(self, now: float) -> Mark:
        """Read the energy clock now. Never raises; failures leave fields ``None``."""
        ...

    def energy_between(self, start: Mark, end: Mark) -> Energy | None:
        """Energy used between two marks, or ``None`` where it could not be measured."""
        ...

    def sample(self, now: float) -> None:
        """Take one power sample (the background sampler calls this). Never raises."""
        ...

    def issues(self) -> tuple[str, ...]:
        """Short notes on what this device could not measure (``lost``, ``mig-shared`` …)."""
        ...

    def hw_readings(self) -> list[HwReading]:
        """Cumulative energy and current power per component, for the ``hw.*`` metrics."""
        ...


class PowerIntegral:
    """Running integral of power samples (trapezoid rule), readable at any instant.

    Between samples the last power is held (zero-order hold), so a read at a
    window boundary needs no I/O; the next sample corrects the estimate and
    the difference lands in the following interval, so totals telescope.
    Thread-safe.
    """

    __slots__ = ("_e", "_lock", "_p", "_t", "samples")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._t: float | None = None
        self._p = 0.0
        self._e = 0.0
        self.samples = 0

    def add(self, t: float, power_w: float) -> None:
        """Record ``power_w`` at time ``t`` (samples must not go back in time)."""
        with self._lock:
            if self._t is not None and t > self._t:
                self._e += 0.5 * (self._p + power_w) * (t - self._t)
            if self._t is None or t >= self._t:
                self._t, self._p = t, power_w
            self.samples += 1

    def add_energy(self, t: float, joules: float) -> None:
        """Record ``joules`` used since the previous call (interval-exact sources such as RAPL)."""
        with self._lock:
            if self._t is not None and t > self._t:
                self._p = joules / (t - self._t)
                self._e += joules
            if self._t is None or t >= self._t:
                self._t = t
            self.samples += 1

    def value_at(self, t: float) -> float | None:
        """Integral up to ``t`` (J), extrapolating the last power; ``None`` before any sample."""
        with self._lock:
            if self._t is None:
                return None
            return self._e + self._p * max(t - self._t, 0.0)

    def last_sample_at(self) -> float | None:
        return self._t

    @property
    def power_w(self) -> float | None:
        return None if self._t is None else self._p
