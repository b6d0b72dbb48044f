"""The one background thread that samples device power while measurement windows are open.

It sleeps on a condition while no window is open (no CPU, no I/O), wakes
when the first window opens, samples every device each period (a fixed
cadence, however often windows open and close), and goes back to sleep
after the last window closes.  Started lazily; a daemon, so it
never holds the process open.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import weakref
from collections.abc import Callable, Sequence

from otel_carbon._log import log_once
from otel_carbon.energy.device import Device

logger = logging.getLogger(__name__)


class Sampler:
    def __init__(self, devices: Sequence[Device], period_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._devices = tuple(devices)
        self.period_s = period_s
        self._clock = clock
        self._cond = threading.Condition()  # wakes the idle thread when a window opens
        self._closing = threading.Event()  # the sleep between passes; set to stop the thread
        self._active = False
        self._closed = False
        self._thread: threading.Thread | None = None
        #: Sampling passes taken (tests and the benchmark read it).
        self.passes = 0
        if hasattr(os, "register_at_fork"):  # a forked child (pre-fork servers) starts its own thread
            ref = weakref.ref(self)
            os.register_at_fork(after_in_child=lambda: _after_fork(ref))

    def _reset_after_fork(self) -> None:
        self._cond = threading.Condition()
        self._thread = None
        self._active = False

    def activate(self) -> None:
        """A window is open: sample until :meth:`deactivate`."""
        with self._cond:
            self._active = True
            if self._thread is None and not self._closed:
                self._thread = threading.Thread(target=self._run, name="otel-carbon-energy-sampler", daemon=True)
                self._thread.start()
            self._cond.notify()

    def deactivate(self) -> None:
        """No window is open: stop sampling after the current pass."""
        self._active = False

    def close(self, timeout: float = 2.0) -> None:
        """Stop the thread (tests, shutdown)."""
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._closing.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def sample_once(self) -> None:
        """One sampling pass over every device, now."""
        now = self._clock()
        for device in self._devices:
            device.sample(now)
        self.passes += 1

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._active and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
            try:
                self.sample_once()
            except Exception as exc:  # devices never raise; this guards the thread regardless
                log_once(logger, "sampler", "otel-carbon: energy sampler pass failed: %r", exc)
            # Sleep a period on an event that only close() sets, so windows opening
            # and closing at a high rate do not make the thread sample more often.
            self._closing.wait(self.period_s)


def _after_fork(ref: weakref.ref[Sampler]) -> None:
    sampler = ref()
    if sampler is not None:
        sampler._reset_after_fork()
