"""Overlapping windows share a device's energy, and the parts add up to the measured whole."""

from __future__ import annotations

import os
import threading
import time

import pytest
from energy_support import fresh_log_once, gpu_meter  # noqa: F401 (an autouse fixture)
from fakes.fake_nvml import FakeClock, FakeGpu, FakeNvml
from hypothesis import given, settings
from hypothesis import strategies as st

from otel_carbon.energy.measured import DeviceMeter
from otel_carbon.energy.nvml import discover_gpus

A = "GPU-aaaaaaaa-0000-0000-0000-000000000000"
B = "GPU-bbbbbbbb-0000-0000-0000-000000000000"


def test_time_rule_splits_each_interval_equally() -> None:
    meter, _, clock = gpu_meter([FakeGpu(A, power_w=100.0)], attribution="time")
    first = meter.start()
    clock.advance(1.0)  # first alone: 100 J
    second = meter.start()
    clock.advance(1.0)  # both: 100 J, 50 each
    a = first.stop()
    clock.advance(0.5)  # second alone: 50 J
    b = second.stop()
    assert a is not None and b is not None
    assert a.accelerator_j == pytest.approx(150.0)
    assert b.accelerator_j == pytest.approx(100.0)
    assert a.accelerator_j + b.accelerator_j == pytest.approx(100.0 * 2.5)
    assert a.extra["sci.measured.share"] == pytest.approx(150.0 / 200.0)


def test_token_rule_weighs_by_token_rate_once_history_exists() -> None:
    meter, _, clock = gpu_meter([FakeGpu(A, power_w=100.0)], attribution="tokens")
    warmup = meter.start()
    clock.advance(1.0)
    assert warmup.stop(tokens=100) is not None  # mean rate: 100 tokens/s
    big, small = meter.start(), meter.start()
    clock.advance(1.0)
    a = big.stop(tokens=300)  # 300 tokens/s against the mean 100 for the one still open
    b = small.stop(tokens=100)
    assert a is not None and b is not None
    assert a.accelerator_j == pytest.approx(100.0 * 300 / (300 + 100))
    assert b.accelerator_j == pytest.approx(100.0 - a.accelerator_j)


def test_token_rule_without_history_is_the_time_rule() -> None:
    meter, _, clock = gpu_meter([FakeGpu(A, power_w=100.0)], attribution="tokens")
    x, y = meter.start(), meter.start()
    clock.advance(1.0)
    a, b = x.stop(tokens=900), y.stop(tokens=1)
    assert a is not None and b is not None
    assert a.accelerator_j == pytest.approx(50.0) and b.accelerator_j == pytest.approx(50.0)


events = st.lists(
    st.tuples(st.sampled_from(["start", "stop", "power"]), st.integers(0, 8), st.sampled_from([50.0, 200.0, 700.0])),
    min_size=1,
    max_size=40,
)


@settings(max_examples=150, deadline=None)
@given(events=events, attribution=st.sampled_from(["time", "tokens"]), tokens=st.lists(st.integers(0, 500), min_size=80))
def test_concurrent_windows_sum_to_the_measured_total(events, attribution, tokens) -> None:
    """Any interleaving of starts, stops and power steps on two GPUs: Σ parts = device energy while busy."""
    clock = FakeClock()
    gpus = [FakeGpu(A, power_w=300.0), FakeGpu(B, power_w=80.0)]
    meter, _, _ = gpu_meter(gpus, attribution=attribution, clock=clock)
    open_windows = []
    busy_since: float | None = None
    busy: list[tuple[float, float]] = []
    parts = [0.0, 0.0]
    for (kind, steps, watts), n in zip(events + [("stop", 0, 0.0)] * 40, tokens):
        clock.advance(0.125 * steps)
        if kind == "power":
            gpus[n % 2].set_power(clock.t, watts)
        elif kind == "start":
            if not open_windows:
                busy_since = clock.t
            open_windows.append(meter.start())
        elif open_windows:
            m = open_windows.pop(n % len(open_windows)).stop(tokens=n or None)
            if not open_windows:
                busy.append((busy_since, clock.t))  # type: ignore[arg-type]
            if m is not None:
                for device, joules in zip(m.devices, m.extra.get("sci.measured.device_energy", [])):
                    parts[[A, B].index(device)] += joules
    assert not open_windows
    for gpu, part in zip(gpus, parts):
        # The counter steps every 0.125 s and every boundary is on that grid, so it is exact.
        expected = sum(gpu.energy_j(end) - gpu.energy_j(start) for start, end in busy)
        assert part == pytest.approx(expected, rel=1e-9, abs=1e-6)


def test_threads_opening_windows_concurrently_conserve_energy() -> None:
    """Real threads on a real clock: the windows' parts add up to the device's counter over the run."""
    clock = time.monotonic
    gpu = FakeGpu(A, power_w=250.0)
    nvml = FakeNvml([gpu], clock)  # type: ignore[arg-type]
    meter = DeviceMeter(discover_gpus(nvml, None), sample_hz=50.0, clock=clock)
    barrier = threading.Barrier(4)
    totals: list[float] = []
    lock = threading.Lock()
    anchor = meter.start()  # keeps the device busy from here to the end, so the run is one busy span

    def worker() -> None:
        barrier.wait()
        for i in range(20):
            window = meter.start()
            sum(range(2000))
            m = window.stop(tokens=i + 1)
            with lock:
                totals.append(m.accelerator_j if m is not None else 0.0)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    last = anchor.stop()
    meter.close()
    assert last is not None and len(totals) == 80
    whole = sum(totals) + last.accelerator_j
    # The anchor's mark and last stop bound the busy span: the device's energy between them.
    assert whole == pytest.approx(250.0 * (last.duration_s), rel=0.02, abs=0.3)


def test_sampler_runs_only_while_windows_are_open() -> None:
    gpu = FakeGpu(A, power_w=100.0, counter=False)
    nvml = FakeNvml([gpu], time.monotonic)  # type: ignore[arg-type]
    meter = DeviceMeter(discover_gpus(nvml, None), sample_hz=200.0)
    try:
        assert meter.sampler.passes == 0  # nothing sampled before any window
        window = meter.start()
        deadline = time.monotonic() + 5.0
        while meter.sampler.passes < 3 and time.monotonic() < deadline:
            time.sleep(0.005)
        assert meter.sampler.passes >= 3
        m = window.stop()
        assert m is not None and m.source == "nvml.power"
        time.sleep(0.02)  # let a pass in flight finish
        settled = meter.sampler.passes
        time.sleep(0.1)  # 20 periods at 200 Hz
        assert meter.sampler.passes == settled
    finally:
        meter.close()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="POSIX fork")
def test_forked_child_samples_with_its_own_thread() -> None:
    """Pre-fork servers: the parent's sampler thread does not survive fork(); the child starts one."""
    gpu = FakeGpu(A, power_w=100.0, counter=False)
    meter = DeviceMeter(discover_gpus(FakeNvml([gpu], time.monotonic), None), sample_hz=200.0)  # type: ignore[arg-type]
    try:
        window = meter.start()
        deadline = time.monotonic() + 5.0
        while meter.sampler.passes < 1 and time.monotonic() < deadline:
            time.sleep(0.005)
        window.stop()
        pid = os.fork()
        if pid == 0:  # the child: exit code 0 only if its own sampler ran
            try:
                before = meter.sampler.passes
                window = meter.start()
                deadline = time.monotonic() + 5.0
                while meter.sampler.passes < before + 2 and time.monotonic() < deadline:
                    time.sleep(0.005)
                ok = meter.sampler.passes >= before + 2 and window.stop() is not None
                os._exit(0 if ok else 1)
            except BaseException:
                os._exit(2)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
    finally:
        meter.close()
