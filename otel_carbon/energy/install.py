"""Build the process-wide meter from settings: NVML GPUs plus the host, or the null meter.

``install_meter`` builds it now; ``install_meter_on_first_use`` (what the set-up calls) defers
the build to the first measurement window — the first local-inference call — so an app that only
calls remote APIs never probes NVML, RAPL or ``/proc`` and logs nothing about them.
"""

from __future__ import annotations

import importlib
import logging
import os
import threading
import warnings
from collections.abc import Callable, Mapping
from types import ModuleType

from otel_carbon._log import log_once
from otel_carbon.config import CarbonSettings
from otel_carbon.energy.device import Device
from otel_carbon.energy.host import open_host
from otel_carbon.energy.measured import DeviceMeter
from otel_carbon.energy.meter import EnergyMeter, MeasurementWindow, NullMeter, set_default_meter
from otel_carbon.energy.nvml import discover_gpus

logger = logging.getLogger(__name__)


def import_nvml() -> ModuleType | None:
    """The ``pynvml`` module (from ``nvidia-ml-py``), or ``None`` (logged once) if it is not installed."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # the "pynvml" shim package warns on import
            return importlib.import_module("pynvml")
    except ImportError as exc:
        log_once(logger, "nvml.import", "otel-carbon: pynvml not installed; no GPU energy measurement (%s)", exc,
                 level=logging.INFO)
        return None


def build_devices(settings: CarbonSettings, *, nvml: ModuleType | None, environ: Mapping[str, str] | None = None,
                  proc_root: str = "/proc") -> list[Device]:
    """The GPUs this process may use (``CUDA_VISIBLE_DEVICES``), then the host."""
    env = os.environ if environ is None else environ
    devices: list[Device] = []
    if nvml is not None:
        devices.extend(discover_gpus(nvml, env.get("CUDA_VISIBLE_DEVICES")))
    host = open_host(rapl_path=settings.energy_rapl_path, proc_root=proc_root, tdp_w=settings.energy_cpu_tdp_w,
                     memory_w_per_gb=settings.energy_memory_w_per_gb, stale_s=2.0 / settings.energy_sample_hz)
    if host is not None:
        devices.append(host)
    return devices


def install_meter(settings: CarbonSettings | None = None, *, nvml: ModuleType | None = None,
                  environ: Mapping[str, str] | None = None, proc_root: str = "/proc") -> EnergyMeter:
    """Build the meter ``settings`` ask for, make it the process-wide default, and return it.

    ``nvml`` defaults to the installed ``pynvml``.  Never raises: where nothing
    can be measured (or ``energy_meter`` is off) the default is a :class:`NullMeter`.
    """
    settings = settings or CarbonSettings.from_env()
    meter: EnergyMeter = NullMeter()
    if settings.energy_meter:
        try:
            devices = build_devices(settings, nvml=nvml if nvml is not None else import_nvml(), environ=environ,
                                    proc_root=proc_root)
            if devices:
                meter = DeviceMeter(devices, sample_hz=settings.energy_sample_hz,
                                    attribution=settings.energy_attribution)
            else:
                log_once(logger, "meter.none", "otel-carbon: no device energy can be measured here; "
                         "spans use estimated energy", level=logging.INFO)
        except Exception as exc:
            log_once(logger, "meter.install", "otel-carbon: energy meter unavailable: %r", exc)
    set_default_meter(meter)
    return meter


class DeferredMeter:
    """The process meter, built by ``build`` when the first window opens (that first ``start`` pays for
    device discovery, once); ``on_ready`` then gets the built meter (e.g. to export its ``hw.*`` metrics).
    Never raises: a failed build or ``on_ready`` is logged once and windows measure nothing."""

    def __init__(self, build: Callable[[], EnergyMeter],
                 on_ready: Callable[[EnergyMeter], None] | None = None) -> None:
        self._build = build
        self._on_ready = on_ready
        self._meter: EnergyMeter | None = None
        self._lock = threading.Lock()

    @property
    def built(self) -> EnergyMeter | None:
        """The meter once built, else ``None``."""
        return self._meter

    def start(self) -> MeasurementWindow:
        meter = self._meter if self._meter is not None else self._resolve()
        return meter.start()

    def _resolve(self) -> EnergyMeter:
        with self._lock:
            if self._meter is None:
                meter: EnergyMeter
                try:
                    meter = self._build()
                    if self._on_ready is not None:
                        self._on_ready(meter)
                except Exception as exc:
                    log_once(logger, "meter.deferred", "otel-carbon: energy meter unavailable: %r", exc)
                    meter = NullMeter()
                self._meter = meter
            return self._meter


def install_meter_on_first_use(settings: CarbonSettings,
                               on_ready: Callable[[EnergyMeter], None] | None = None) -> EnergyMeter:
    """Make the process-wide default a :class:`DeferredMeter` over :func:`install_meter` (which, once run,
    installs the real meter as the default); a :class:`NullMeter` when ``energy_meter`` is off."""
    meter: EnergyMeter = NullMeter()
    if settings.energy_meter:
        meter = DeferredMeter(lambda: install_meter(settings), on_ready)
    set_default_meter(meter)
    return meter
