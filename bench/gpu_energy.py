"""The energy meter on a real NVIDIA GPU: counter vs integrated power, and the split of concurrent requests.

Run on a GPU machine: ``PYTHONPATH=. python bench/gpu_energy.py`` (needs torch with
CUDA and nvidia-ml-py; about 60 s).  Prints a JSON summary.

1. **Counter vs power.**  A steady load (a loop of bf16 matmuls on ``cuda:0``);
   windows of 5 s read the NVML energy counter at both ends while the one
   background sampler integrates ``nvmlDeviceGetPowerUsage`` (10 Hz, the
   default, and 50 Hz).  Agreement = |integrated − counter| / counter; goal ≤ 5 %.
2. **Concurrent requests.**  Four threads issue requests of different sizes
   (matmul counts) for ~12 s, each inside its own window; the parts the meter
   hands out are compared with the device counter over the whole run (the
   remainder is the gaps when no request was open), and each thread's energy
   share with its share of the work (matmuls) and of the open time.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch

from otel_carbon.energy.install import import_nvml
from otel_carbon.energy.measured import DeviceMeter
from otel_carbon.energy.nvml import NvmlGpu, discover_gpus
from otel_carbon.energy.sampler import Sampler

N = 4096
WARMUP_S = 5.0
WINDOW_S = 5.0
CONCURRENT_S = 12.0
THREAD_SIZES = (1, 2, 4, 8)  # matmuls per request, per thread


def matmul_loop(seconds: float, a: torch.Tensor, b: torch.Tensor) -> int:
    """Keep the GPU busy for ``seconds``; returns the matmuls issued."""
    done = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for _ in range(8):
            torch.matmul(a, b)
        done += 8
        torch.cuda.synchronize()
    return done


def counter_vs_power(gpu: NvmlGpu, a: torch.Tensor, b: torch.Tensor, hz: float, windows: int) -> list[dict]:
    sampler = Sampler([gpu], 1.0 / hz)
    sampler.activate()
    rows = []
    try:
        time.sleep(2.0 / hz)
        for _ in range(windows):
            start = gpu.mark(time.monotonic())
            matmul_loop(WINDOW_S, a, b)
            end = gpu.mark(time.monotonic())
            counter = None if start.counter_j is None or end.counter_j is None else end.counter_j - start.counter_j
            integral = None if start.integral_j is None or end.integral_j is None else end.integral_j - start.integral_j
            rows.append({
                "sample_hz": hz,
                "seconds": end.t - start.t,
                "counter_j": counter,
                "integrated_j": integral,
                "mean_power_w": None if counter is None else counter / (end.t - start.t),
                "agreement": None if not counter or integral is None else abs(integral - counter) / counter,
            })
    finally:
        sampler.close()
    return rows


def concurrent_split(meter: DeviceMeter, gpu: NvmlGpu, a: torch.Tensor, b: torch.Tensor) -> dict:
    energy = [0.0] * len(THREAD_SIZES)
    work = [0] * len(THREAD_SIZES)
    open_s = [0.0] * len(THREAD_SIZES)
    requests = [0] * len(THREAD_SIZES)
    barrier = threading.Barrier(len(THREAD_SIZES) + 1)
    stop_at = [0.0]

    def worker(i: int, size: int) -> None:
        stream = torch.cuda.Stream()
        barrier.wait()
        with torch.cuda.stream(stream):
            while time.monotonic() < stop_at[0]:
                window = meter.start()
                for _ in range(size):
                    torch.matmul(a, b)
                stream.synchronize()
                m = window.stop(tokens=size)
                if m is not None and m.accelerator_j is not None:
                    energy[i] += m.accelerator_j
                    open_s[i] += m.duration_s
                work[i] += size
                requests[i] += 1

    threads = [threading.Thread(target=worker, args=(i, s)) for i, s in enumerate(THREAD_SIZES)]
    for t in threads:
        t.start()
    before = gpu.mark(time.monotonic())
    stop_at[0] = time.monotonic() + CONCURRENT_S
    barrier.wait()
    for t in threads:
        t.join()
    after = gpu.mark(time.monotonic())
    device_j = None if before.counter_j is None or after.counter_j is None else after.counter_j - before.counter_j
    total = sum(energy)
    return {
        "threads": [
            {"matmuls_per_request": s, "requests": r, "energy_j": e, "energy_share": e / total if total else None,
             "work_share": w / sum(work), "open_time_share": o / sum(open_s)}
            for s, r, e, w, o in zip(THREAD_SIZES, requests, energy, work, open_s)
        ],
        "sum_of_requests_j": total,
        "device_counter_j": device_j,
        "coverage": None if not device_j else total / device_j,
    }


def main() -> None:
    if not torch.cuda.is_available():
        print(json.dumps({"error": "no CUDA device visible to torch"}))
        return
    nvml = import_nvml()
    gpus = discover_gpus(nvml, os.environ.get("CUDA_VISIBLE_DEVICES")) if nvml is not None else []
    if not gpus:
        print(json.dumps({"error": "NVML found no GPU"}))
        return
    gpu = gpus[0]  # cuda:0 is the first visible GPU (NVML order; see docs/energy.md)
    torch.backends.cuda.matmul.allow_tf32 = True
    a = torch.randn(N, N, device="cuda", dtype=torch.bfloat16)
    b = torch.randn(N, N, device="cuda", dtype=torch.bfloat16)
    matmul_loop(WARMUP_S, a, b)
    rows = counter_vs_power(gpu, a, b, 10.0, 3) + counter_vs_power(gpu, a, b, 50.0, 2)
    meter = DeviceMeter([gpu], attribution="tokens")
    try:
        split = concurrent_split(meter, gpu, a, b)
    finally:
        meter.close()
    agreements = [r["agreement"] for r in rows if r["agreement"] is not None]
    print(json.dumps({
        "device": gpu.info.name,
        "hw_id": gpu.info.hw_id,
        "issues": list(gpu.issues()),
        "torch": torch.__version__,
        "counter_vs_power": rows,
        "max_disagreement": max(agreements) if agreements else None,
        "within_5pct": bool(agreements) and max(agreements) <= 0.05,
        "concurrent": split,
    }, indent=2))


if __name__ == "__main__":
    main()
