"""The meter that measures: device energy clocks, a ledger of intervals, fair shares.

**Intervals.** Every window start or stop is a boundary: the meter marks
every device there, and the energy between two consecutive boundaries (an
*interval*) belongs to the windows open throughout it.  A window is open in
one contiguous run of intervals, so it only records where its run begins.

**Attribution** (``docs/energy.md``).  When a window closes, it takes from
each of its intervals a share of the energy that interval still holds:

* ``time``: ``1/k`` where ``k`` windows of that interval are still unsettled
  (so every window open in an interval gets the same part of it);
* ``tokens`` (default): weight ``w`` = the window's token rate (tokens / s)
  when it reports tokens, else the running mean rate ``m`` of closed windows;
  still-open windows, whose tokens are unknown yet, are weighed at ``m``:
  share ``w / (w + (k − 1)·m)``.  With no history it is the time rule.

The last window of an interval takes what is left, so the parts of every
interval add up to its measured energy, whatever the order of closing.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from itertools import islice

from otel_carbon import semconv as sc
from otel_carbon._log import log_once
from otel_carbon.energy.device import ACCELERATOR, Device, HwReading, Mark
from otel_carbon.energy.meter import Measurement
from otel_carbon.energy.sampler import Sampler

logger = logging.getLogger(__name__)

#: Weight of the newest token rate in the running mean.
_RATE_SMOOTHING = 0.2


class _Interval:
    """Energy between two boundaries, per device (``None`` = not measured), not yet handed out."""

    __slots__ = ("methods", "remaining", "total", "unsettled")

    def __init__(self, remaining: list[float | None], methods: list[str | None], unsettled: int) -> None:
        self.remaining = remaining
        self.methods = methods
        self.unsettled = unsettled
        self.total = sum(j for j in remaining if j is not None)  # J measured in the interval, all devices


class DeviceWindow:
    """An open window of a :class:`DeviceMeter`."""

    __slots__ = ("_meter", "closed", "first", "started")

    def __init__(self, meter: DeviceMeter, first: int, started: float) -> None:
        self._meter = meter
        self.first = first  # sequence number of the first interval this window is open in
        self.started = started
        self.closed = False

    def stop(self, tokens: int | None = None) -> Measurement | None:
        """Close the window; ``None`` if nothing could be measured. Never raises."""
        try:
            return self._meter._stop(self, tokens)
        except Exception as exc:
            log_once(logger, "meter.stop", "otel-carbon: energy window failed: %r", exc)
            return None


class DeviceMeter:
    """An :class:`~otel_carbon.energy.EnergyMeter` over real devices (NVML GPUs, the host).

    ``clock`` is the monotonic time source (s); ``sampler=False`` leaves
    sampling to the caller (:meth:`sample_now`), for deterministic tests.
    """

    def __init__(self, devices: Sequence[Device], *, sample_hz: float = 10.0, attribution: str = "tokens",
                 clock: Callable[[], float] = time.monotonic, sampler: bool = True) -> None:
        if attribution not in ("tokens", "time"):
            raise ValueError(f"attribution must be 'tokens' or 'time', not {attribution!r}")
        self.devices = tuple(devices)
        self._by_tokens = attribution == "tokens"
        self._clock = clock
        self._lock = threading.Lock()
        self._intervals: deque[_Interval] = deque()
        self._base = 0  # sequence number of self._intervals[0]
        self._open = 0
        self._last_marks: list[Mark] = []
        self._mean_rate: float | None = None
        self._sampler = Sampler(self.devices, 1.0 / sample_hz, clock)
        self._background = sampler

    # --- the contract ------------------------------------------------------------------

    def start(self) -> DeviceWindow:
        """Open a window now. Thread-safe; never raises."""
        try:
            with self._lock:
                now = self._clock()
                if self._open:
                    self._cut(now)
                else:
                    self._last_marks = [d.mark(now) for d in self.devices]
                self._open += 1
                if self._open == 1 and self._background:
                    self._sampler.activate()
                return DeviceWindow(self, self._base + len(self._intervals), now)
        except Exception as exc:
            log_once(logger, "meter.start", "otel-carbon: energy window failed to open: %r", exc)
            return DeviceWindow(self, -1, 0.0)

    # --- the ledger --------------------------------------------------------------------

    def _cut(self, now: float) -> None:
        """Close the current interval at ``now``, shared by the windows open in it."""
        marks = [d.mark(now) for d in self.devices]
        remaining: list[float | None] = []
        methods: list[str | None] = []
        for device, start, end in zip(self.devices, self._last_marks, marks):
            energy = device.energy_between(start, end)
            remaining.append(None if energy is None else energy.joules)
            methods.append(None if energy is None else energy.method)
        self._intervals.append(_Interval(remaining, methods, self._open))
        self._last_marks = marks

    def _stop(self, window: DeviceWindow, tokens: int | None) -> Measurement | None:
        if window.first < 0:
            return None
        with self._lock:
            if window.closed:
                return None
            window.closed = True
            now = self._clock()
            self._cut(now)
            duration = now - window.started
            weight = self._weight(tokens, duration)
            n = len(self.devices)
            parts = [0.0] * n
            measured = [False] * n
            partial = [False] * n
            available = 0.0
            methods: set[str] = set()
            for interval in islice(self._intervals, max(window.first - self._base, 0), None):
                k = interval.unsettled
                share = 1.0 / k if weight is None else weight[0] / (weight[0] + (k - 1) * weight[1])
                for i, joules in enumerate(interval.remaining):
                    if joules is None:
                        partial[i] = True
                        continue
                    part = joules if k == 1 else joules * share
                    interval.remaining[i] = joules - part
                    parts[i] += part
                    measured[i] = True
                    methods.add(interval.methods[i])  # type: ignore[arg-type]
                interval.unsettled = k - 1
                available += interval.total
            while self._intervals and self._intervals[0].unsettled == 0:
                self._intervals.popleft()
                self._base += 1
            self._open -= 1
            if tokens and duration > 0:
                rate = tokens / duration
                self._mean_rate = rate if self._mean_rate is None else (
                    self._mean_rate + _RATE_SMOOTHING * (rate - self._mean_rate))
            if self._open == 0:
                self._sampler.deactivate()
        return self._measurement(parts, measured, partial, available, methods, duration)

    def _weight(self, tokens: int | None, duration: float) -> tuple[float, float] | None:
        """(this window's weight, a still-open window's weight), or ``None`` for the time rule."""
        mean = self._mean_rate
        if not self._by_tokens or not mean:  # the time rule, or no token history yet
            return None
        own = tokens / duration if tokens and duration > 0 else mean
        return (max(own, 1e-12), mean)

    def _measurement(self, parts: list[float], measured: list[bool], partial: list[bool], available: float,
                     methods: set[str], duration: float) -> Measurement | None:
        accelerator: float | None = None
        host: float | None = None
        device_ids: list[str] = []
        device_j: list[float] = []
        issues: list[str] = []
        for device, part, ok, gap in zip(self.devices, parts, measured, partial):
            issues.extend(device.issues())
            if gap and ok:
                issues.append(f"{device.info.hw_id}:partial")
            if not ok:
                continue
            if device.info.role == ACCELERATOR:
                accelerator = (accelerator or 0.0) + part
                device_ids.append(device.info.hw_id)
                device_j.append(part)
            else:
                host = (host or 0.0) + part
        if accelerator is None and host is None:
            return None
        extra: dict[str, object] = {sc.SCI_MEASURED_SHARE: sum(parts) / available if available > 0 else 1.0}
        if device_j:
            extra[sc.SCI_MEASURED_DEVICE_ENERGY] = device_j
        if issues:
            extra[sc.SCI_MEASURED_ISSUES] = sorted(set(issues))
        return Measurement(accelerator_j=accelerator, host_j=host, duration_s=duration, devices=tuple(device_ids),
                           source="+".join(sorted(methods)), extra=extra)

    # --- sampling, metrics, lifecycle ----------------------------------------------------

    def sample_now(self) -> None:
        """Take one power sample of every device now (what the background thread does)."""
        self._sampler.sample_once()

    @property
    def sampler(self) -> Sampler:
        return self._sampler

    @property
    def open_windows(self) -> int:
        return self._open

    def hw_readings(self) -> list[HwReading]:
        """Per-component cumulative energy (J) and power (W) for the ``hw.*`` metrics. Never raises."""
        readings: list[HwReading] = []
        for device in self.devices:
            try:
                readings.extend(device.hw_readings())
            except Exception as exc:
                log_once(logger, f"hw.{device.info.hw_id}", "otel-carbon: hw metrics of %s failed: %r",
                         device.info.hw_id, exc)
        return readings

    def close(self) -> None:
        """Stop the sampler thread."""
        self._sampler.close()
