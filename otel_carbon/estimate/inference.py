"""Accelerator energy and embodied carbon of one remote LLM call, from model size and tokens.

Decode (output tokens) follows the per-token fit that EcoLogits published from
the ML.ENERGY leaderboard (H100-80GB, vLLM): energy per output token per GPU
``e(P, B) = α · exp(β · B) · P + γ`` Wh, with ``P`` the active parameters in
billions and ``B`` the batch size, times the GPUs needed to hold the model.
Prefill (input tokens) is compute-bound, so it is costed from FLOPs:
``2 · P · 1e9`` FLOP per token at a prefill efficiency of the accelerator's
peak FLOP/J times ``PREFILL_MFU``.  Cached input tokens skip most of prefill
and cost ``CACHED_INPUT_FACTOR`` of it.  Reasoning tokens are output tokens.

Low / mid / high come from the parameter range of models whose size is not
public, crossed with a batch size range (``BATCH_HIGH_LOAD`` … ``BATCH_LOW_LOAD``).
Every constant is listed with its source in ``docs/methodology.md``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from otel_carbon import sci
from otel_carbon.estimate.catalogue import Accelerator, Hardware, ModelSpec
from otel_carbon.sci import Range

# Decode fit, Wh per output token per GPU (EcoLogits methodology, ML.ENERGY data).
ALPHA_WH = 1.1665e-6
BETA = -0.011206
GAMMA_WH = 4.0529e-5
# Batch sizes: mid is EcoLogits' reference; a busier server (low) and a quieter one (high).
BATCH_MID = 64
BATCH_HIGH_LOAD = 128
BATCH_LOW_LOAD = 32
# Memory to hold the weights: bytes per parameter (16-bit) and 20 % overhead (KV cache, activations).
BYTES_PER_PARAM = 2.0
MEMORY_OVERHEAD = 1.2
# Decode latency per output token, s (EcoLogits fallback fit): a·P + b·B + c.
LATENCY_A_S = 6.785e-4
LATENCY_B_S = 3.119e-4
LATENCY_C_S = 0.019474
# Prefill: fraction of peak FLOP/s reached, and the share of prefill a cache hit still costs.
PREFILL_MFU = 0.4
CACHED_INPUT_FACTOR = 0.1
WH = 3600.0  # J per Wh


@dataclass(frozen=True)
class TokenUsage:
    """Token counts of one call, as the GenAI conventions define them.

    ``input`` includes ``cached_input`` and ``cache_write``; ``reasoning`` is a
    subset of ``output`` (when a producer reports it outside, pass the sum).
    """

    input: int = 0
    output: int = 0
    cached_input: int = 0
    cache_write: int = 0
    reasoning: int = 0

    @property
    def uncached_input(self) -> int:
        return max(self.input - self.cached_input, 0)

    @property
    def total(self) -> int:
        return self.input + self.output


@dataclass(frozen=True)
class InferenceEstimate:
    """Accelerator energy (J), generation time (s) and GPUs of one call, low/mid/high."""

    accelerator_j: Range
    generation_s: Range
    gpus: Range


def gpus_required(params_total_b: float, accelerator: Accelerator) -> int:
    """Accelerators (a power of two) whose memory holds the model's 16-bit weights + 20 %."""
    memory_gb = MEMORY_OVERHEAD * params_total_b * BYTES_PER_PARAM
    needed = max(1, math.ceil(memory_gb / accelerator.memory_gb))
    return 2 ** math.ceil(math.log2(needed))


def decode_wh_per_token_per_gpu(params_active_b: float, batch: int) -> float:
    """Decode energy per output token per GPU, Wh."""
    return ALPHA_WH * math.exp(BETA * batch) * params_active_b + GAMMA_WH


def prefill_j_per_token(params_active_b: float, accelerator: Accelerator) -> float:
    """Prefill energy per uncached input token, J: 2·P FLOP at ``PREFILL_MFU`` of peak FLOP/J."""
    flop_per_joule = accelerator.peak_bf16_flops / accelerator.tdp_w * PREFILL_MFU
    return 2.0 * params_active_b * 1e9 / flop_per_joule


def _point(active_b: float, total_b: float, batch: int, usage: TokenUsage, acc: Accelerator) -> tuple[float, float, int]:
    gpus = gpus_required(total_b, acc)
    decode_tokens = usage.output if usage.reasoning <= usage.output else usage.output + usage.reasoning
    decode_j = gpus * decode_tokens * decode_wh_per_token_per_gpu(active_b, batch) * WH
    prefill_tokens = usage.uncached_input + CACHED_INPUT_FACTOR * usage.cached_input
    prefill_j = prefill_tokens * prefill_j_per_token(active_b, acc)
    seconds = decode_tokens * (LATENCY_A_S * active_b + LATENCY_B_S * batch + LATENCY_C_S)
    return decode_j + prefill_j, seconds, gpus


def estimate_inference(spec: ModelSpec, usage: TokenUsage, accelerator: Accelerator) -> InferenceEstimate:
    """Accelerator energy of one call (J), its generation time (s) and GPUs, low/mid/high."""
    low = _point(spec.params_active_b.low, spec.params_total_b.low, BATCH_HIGH_LOAD, usage, accelerator)
    mid = _point(spec.params_active_b.mid, spec.params_total_b.mid, BATCH_MID, usage, accelerator)
    high = _point(spec.params_active_b.high, spec.params_total_b.high, BATCH_LOW_LOAD, usage, accelerator)
    return InferenceEstimate(
        accelerator_j=Range(low[0], mid[0], high[0]),
        generation_s=Range(low[1], mid[1], high[1]),
        gpus=Range(low[2], mid[2], high[2]),
    )


def embodied_share_g(
    estimate: InferenceEstimate, hardware: Hardware, accelerator: Accelerator, lifespan_years: float
) -> float:
    """Embodied carbon of the call, g CO2e (mid point), by the SCI ``M`` formula.

    TE is the GPUs used plus their share of the server; TiR the generation time;
    EL the lifespan; RR/ToR = 1 / batch, since a batch shares the hardware.
    """
    gpus = estimate.gpus.mid
    te_g = 1000.0 * (
        gpus * accelerator.embodied_kg
        + hardware.server_embodied_kg * gpus / hardware.accelerators_per_server
    )
    return sci.embodied_g(
        te_g,
        time_reserved_s=estimate.generation_s.mid,
        expected_lifespan_s=lifespan_years * sci.SECONDS_PER_YEAR,
        resources_reserved=1.0,
        total_resources=BATCH_MID,
    )
