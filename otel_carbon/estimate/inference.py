"""Accelerator energy and embodied carbon of one remote LLM call, from model size and tokens.

Both phases are costed from compute: a forward pass costs ``2 · P_act · 10⁹``
FLOP per token (``P_act`` the active parameters in billions), divided by how
many FLOP an accelerator delivers per joule in that phase.

* **Decode** (output tokens, reasoning included) is memory-bound; its
  efficiency is calibrated on the ML.ENERGY benchmark's measurement of
  Llama 3.1 8B on H100 at batch 64 (0.12 J per output token, v3, vLLM 0.11):
  ``η_decode = 2 · 8e9 / 0.12`` FLOP/J, about 9 % of the H100's peak FLOP/J.
* **Prefill** (input tokens) is compute-bound: ``PREFILL_MFU`` of the
  accelerator's peak FLOP/J.  A cached input token costs
  ``CACHED_INPUT_FACTOR`` of an uncached one (the KV cache is read, not recomputed).

Low / mid / high cross the model's parameter range (for models whose size is
not public) with the decode efficiency range: high is the same ML.ENERGY
configuration measured with older serving software (v2, 0.20 J/token), low is
as far below the reference in log space.  Every constant is listed with its
source in ``docs/methodology.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, NamedTuple

from otel_carbon import sci
from otel_carbon.estimate.catalogue import Accelerator, Hardware, ModelSpec
from otel_carbon.sci import Range

# Decode calibration: ML.ENERGY v3 (and v2) J per output token, Llama 3.1 8B, H100, batch 64.
REFERENCE_PARAMS_B = 8.0
DECODE_J_PER_TOKEN = 0.12  # v3 (vLLM 0.11.1)
DECODE_J_PER_TOKEN_HIGH = 0.20  # v2 (vLLM 0.5.4), the same configuration
DECODE_J_PER_TOKEN_LOW = DECODE_J_PER_TOKEN**2 / DECODE_J_PER_TOKEN_HIGH  # mirrored in log space
# Average accelerator power while serving, as a share of TDP (Epoch AI and Microsoft both assume 0.7).
SERVING_POWER_SHARE = 0.7
# Prefill: fraction of peak FLOP/s reached, and the share of prefill a cache hit still costs.
PREFILL_MFU = 0.4
CACHED_INPUT_FACTOR = 0.1


class TokenUsage(NamedTuple):
    """Token counts of one call, as the GenAI conventions define them.

    ``input`` includes ``cached_input`` and ``cache_write``; ``reasoning`` is a
    subset of ``output`` (when a producer reports it outside, pass the sum).
    A named tuple: one is built per call on the hot path.  The derived counts are
    written with arithmetic only (``max(d, 0)`` as ``d * (d > 0)``), so a usage whose
    fields are numpy columns of many calls' counts gives the same values, call by call
    (the gateway costs a request's calls so: :mod:`otel_carbon.collector.columns`).
    """

    input: int = 0
    output: int = 0
    cached_input: int = 0
    cache_write: int = 0
    reasoning: int = 0

    @property
    def uncached_input(self) -> int:
        """Input tokens not read from the cache (never below 0)."""
        return _at_least_zero(self.input - self.cached_input)

    @property
    def total(self) -> int:
        return self.input + self.output

    @property
    def billed_uncached_input(self) -> int:
        """Input tokens billed at the plain input price: uncached input less cache writes (priced apart)."""
        return _at_least_zero(self.uncached_input - self.cache_write)

    @property
    def prefill(self) -> float:
        """Prefill-equivalent tokens: uncached input + ``CACHED_INPUT_FACTOR`` × cached input."""
        return self.uncached_input + CACHED_INPUT_FACTOR * self.cached_input


def _at_least_zero(count: Any) -> Any:
    """``max(count, 0)`` for an integer count, or element by element for a column of them (floats holding
    integers: a negative float would give -0.0)."""
    return count * (count > 0)


@dataclass(frozen=True)
class InferenceEstimate:
    """Accelerator energy (J) and accelerator time held (GPU·s) of one call, low/mid/high."""

    accelerator_j: Range
    gpu_seconds: Range


def decode_j_per_token(params_active_b: float, reference_j: float = DECODE_J_PER_TOKEN) -> float:
    """Decode energy per output token, J: 2·P FLOP at the calibrated decode efficiency."""
    flop_per_joule = 2.0 * REFERENCE_PARAMS_B * 1e9 / reference_j
    return 2.0 * params_active_b * 1e9 / flop_per_joule


def prefill_j_per_token(params_active_b: float, accelerator: Accelerator) -> float:
    """Prefill energy per uncached input token, J: 2·P FLOP at ``PREFILL_MFU`` of peak FLOP/J."""
    flop_per_joule = accelerator.peak_bf16_flops / accelerator.tdp_w * PREFILL_MFU
    return 2.0 * params_active_b * 1e9 / flop_per_joule


def decode_tokens(usage: TokenUsage) -> int:
    """Output tokens to decode: reasoning is a subset of output unless reported beside it (more
    reasoning than output tokens).  Arithmetic only, as :class:`TokenUsage`'s derived counts."""
    return usage.output + usage.reasoning * (usage.reasoning > usage.output)


@dataclass(frozen=True)
class TokenEnergy:
    """Accelerator energy per token of one model on one accelerator, J, low/mid/high."""

    decode: Range  #: per output (decoded) token
    prefill: Range  #: per uncached input token


@lru_cache(maxsize=1024)
def token_energy(spec: ModelSpec, accelerator: Accelerator) -> TokenEnergy:
    """Per-token energies of ``spec`` on ``accelerator`` (memoised: they depend on nothing else)."""
    active = spec.params_active_b
    return TokenEnergy(
        decode=Range(
            decode_j_per_token(active.low, DECODE_J_PER_TOKEN_LOW),
            decode_j_per_token(active.mid, DECODE_J_PER_TOKEN),
            decode_j_per_token(active.high, DECODE_J_PER_TOKEN_HIGH),
        ),
        prefill=Range(
            prefill_j_per_token(active.low, accelerator),
            prefill_j_per_token(active.mid, accelerator),
            prefill_j_per_token(active.high, accelerator),
        ),
    )


def estimate_inference(spec: ModelSpec, usage: TokenUsage, accelerator: Accelerator) -> InferenceEstimate:
    """Accelerator energy of one call (J) and the accelerator time it held (GPU·s), low/mid/high.

    See :func:`inference_from`; the per-token energies are :func:`token_energy`'s.
    """
    return inference_from(token_energy(spec, accelerator), usage, accelerator.tdp_w)


def inference_from(per_token: TokenEnergy, usage: TokenUsage, tdp_w: float) -> InferenceEstimate:
    """Accelerator energy of one call (J) and the accelerator time it held (GPU·s), low/mid/high.

    Energy is decoded tokens × decode J/token + prefill-equivalent tokens (uncached
    input + ``CACHED_INPUT_FACTOR`` × cached input) × prefill J/token.  Accelerator
    time is energy over the average serving power (``SERVING_POWER_SHARE`` × ``tdp_w``, W):
    the call's time-share of the GPUs its batch ran on.
    """
    decode = decode_tokens(usage)
    prefill = usage.prefill
    energy = Range(
        decode * per_token.decode.low + prefill * per_token.prefill.low,
        decode * per_token.decode.mid + prefill * per_token.prefill.mid,
        decode * per_token.decode.high + prefill * per_token.prefill.high,
    )
    return InferenceEstimate(energy, energy.scale(serving_seconds_per_j(tdp_w)))


def serving_seconds_per_j(tdp_w: float) -> float:
    """Accelerator time (GPU·s) one joule of serving stands for: one over the average serving power, W."""
    return 1.0 / (SERVING_POWER_SHARE * tdp_w)


def embodied_share_g(
    estimate: InferenceEstimate, hardware: Hardware, accelerator: Accelerator, lifespan_years: float
) -> float:
    """Embodied carbon of the call, g CO2e (mid point), by the SCI ``M`` formula.

    TE is one accelerator plus its share of the server (:meth:`Hardware.device_embodied_g`);
    TiR the accelerator time the call held (GPU·s); EL the lifespan; RR/ToR = 1 (the
    time-share already divides the device among the requests of a batch).
    """
    return sci.embodied_g(
        hardware.device_embodied_g(accelerator),
        time_reserved_s=estimate.gpu_seconds.mid,
        expected_lifespan_s=lifespan_years * sci.SECONDS_PER_YEAR,
    )
