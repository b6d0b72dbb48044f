"""Run a command as a child process: its exit status, signals passed on, its energy measured.

Energy comes from the core meter (:mod:`otel_carbon.energy`) pointed at the
child: NVML GPUs device-wide (every process on them), and the host share of
the *child process* (its CPU time over the machine's busy time, RAPL or the
CPU model, plus its resident memory).  The host device reads ``/proc/self``;
here it reads a private view whose ``self`` is the child, and the window is
closed before the child is reaped so its last CPU time counts.  Work done in
grandchildren is not in the host share: ``exec`` long-running work from shell
wrappers.  Nothing measurable → ``energy_j`` is ``None`` (never a guessed 0).
"""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from otel_carbon.config import CarbonSettings
from otel_carbon.energy.meter import MeasurementWindow

#: Signals passed on to the child while it runs.
FORWARDED = tuple(
    getattr(signal, name)
    for name in ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2")
    if hasattr(signal, name)
)


@dataclass(frozen=True)
class Completed:
    """A finished command: ``exit_code`` as a shell reports it (128 + N when killed by signal N)."""

    exit_code: int
    duration_s: float
    energy_j: float | None
    energy_source: str | None


def run_command(argv: Sequence[str], settings: CarbonSettings | None = None) -> Completed:
    """Run ``argv`` (no shell) to completion; raises ``OSError`` when it cannot be started."""
    started = time.monotonic()
    child = subprocess.Popen(list(argv))
    previous = {sig: signal.signal(sig, _forward_to(child)) for sig in FORWARDED}
    try:
        with _child_window(child.pid, settings) as window:
            os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)  # exited, not reaped: /proc still readable
            measurement = window.stop() if window is not None else None
        returncode = child.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    energy = measurement.total_j if measurement is not None else None
    return Completed(
        exit_code=128 - returncode if returncode < 0 else returncode,
        duration_s=time.monotonic() - started,
        energy_j=energy,
        energy_source=measurement.source if measurement is not None and energy is not None else None,
    )


def _forward_to(child: subprocess.Popen[bytes]) -> Callable[[int, FrameType | None], None]:
    def forward(signum: int, frame: FrameType | None) -> None:
        if child.returncode is None:
            try:
                os.kill(child.pid, signum)
            except ProcessLookupError:
                pass

    return forward


@contextmanager
def _child_window(pid: int, settings: CarbonSettings | None) -> Iterator[MeasurementWindow | None]:
    """An open meter window over the GPUs and the child's host share; ``None`` when off or nothing measurable."""
    from otel_carbon.energy.install import build_devices, import_nvml
    from otel_carbon.energy.measured import DeviceMeter

    settings = settings or CarbonSettings.from_env()
    with tempfile.TemporaryDirectory(prefix="otel-carbon-proc-") as view:
        for name in ("stat", "meminfo", "cpuinfo"):
            os.symlink(f"/proc/{name}", Path(view, name))
        os.symlink(f"/proc/{pid}", Path(view, "self"))
        devices = build_devices(settings, nvml=import_nvml(), proc_root=view) if settings.energy_meter else []
        if not devices:
            yield None
            return
        meter = DeviceMeter(devices, sample_hz=settings.energy_sample_hz, attribution="time")
        yield meter.start()
