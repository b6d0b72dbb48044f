"""Catalogue matching and the per-token energy fit, against hand-worked numbers."""

from __future__ import annotations

import math
import re

import pytest

from otel_carbon.estimate import inference
from otel_carbon.estimate.catalogue import Catalogue, normalise
from otel_carbon.estimate.inference import TokenUsage, estimate_inference

HARDWARE = {
    "default": "H100",
    "accelerators": {"H100": {"tdp_w": 700, "peak_bf16_flops": 9.89e14, "embodied_kg": 164}},
    "server": {"accelerators_per_server": 8, "embodied_kg_without_accelerators": 5700},
}
MODELS = {
    "providers": {"openai": {"pue": 1.2, "hardware": "H100"}, "meta": {"pue": 1.1}},
    "models": [
        {"provider": "openai", "name": "gpt-4o", "aliases": ["chatgpt-4o-latest"], "kind": "chat",
         "params_total_b": {"low": 200, "high": 800}, "params_active_b": {"low": 100, "high": 400},
         "price_usd_per_mtok": {"input": 2.5, "cached_input": 1.25, "output": 10.0}},
        {"provider": "openai", "name": "gpt-4o-mini", "kind": "chat", "params_total_b": 8,
         "price_usd_per_mtok": {"input": 0.15, "cached_input": 0.075, "output": 0.6}},
        {"provider": "meta", "name": "llama-3.1-70b-instruct", "kind": "chat", "params_total_b": 70},
    ],
    "fallback_classes": [
        {"pattern": "embed", "class": "embedding", "params_total_b": 0.3},
        {"pattern": "mini|small|8b", "class": "small", "params_total_b": {"low": 3, "high": 15}},
    ],
    "default_class": {"class": "unknown", "params_total_b": {"low": 10, "high": 1000}},
}


@pytest.fixture
def catalogue():
    return Catalogue(MODELS, HARDWARE)


@pytest.mark.parametrize(
    "provider, model, expected",
    [
        ("openai", "gpt-4o", "gpt-4o"),
        ("openai", "GPT-4o", "gpt-4o"),
        ("openai", "gpt-4o-2024-08-06", "gpt-4o"),  # dated snapshot
        ("openai", "chatgpt-4o-latest", "gpt-4o"),  # alias
        ("openai", "gpt-4o-mini-2024-07-18", "gpt-4o-mini"),  # longest name wins
        ("openai", "openai/gpt-4o-mini", "gpt-4o-mini"),  # routing prefix
        (None, "meta.llama-3.1-70b-instruct-v1:0", "llama-3.1-70b-instruct"),  # Bedrock id
        ("together", "meta-llama/llama-3.1-70b-instruct", "llama-3.1-70b-instruct"),
    ],
)
def test_known_models_match_exactly(catalogue, provider, model, expected):
    match = catalogue.find(provider, model)
    assert match.match == "exact"
    assert match.spec.name == expected


def test_a_different_model_is_not_a_prefix_match(catalogue):
    # "gpt-4" must not match "gpt-4o" (no separator after the known name) and vice versa.
    assert catalogue.find("openai", "gpt-4").match != "exact"
    assert catalogue.find("openai", "gpt-4ox").match != "exact"


def test_unknown_models_fall_back_by_pattern_then_default(catalogue):
    assert catalogue.find("x", "acme-embed-2").spec.name == "embedding"
    small = catalogue.find("x", "acme-mini")
    assert (small.match, small.spec.name) == ("pattern", "small")
    assert catalogue.find("x", "acme-giant").match == "default"
    assert catalogue.find("x", None).match == "default"


def test_size_ranges_use_the_geometric_mean_as_mid(catalogue):
    spec = catalogue.find("openai", "gpt-4o").spec
    assert spec.params_total_b.mid == pytest.approx(math.sqrt(200 * 800))
    assert spec.params_active_b.mid == pytest.approx(200.0)


def test_normalise_strips_routing_prefixes():
    assert normalise("models/gemini-2.5-flash") == "gemini-2.5-flash"
    assert normalise("us.anthropic.claude-3-5-sonnet-20240620-v1:0") == "claude-3-5-sonnet-20240620-v1:0"


def test_decode_is_calibrated_on_the_ml_energy_measurement():
    # ML.ENERGY v3: Llama 3.1 8B on H100 at batch 64 used 0.12 J per output token.
    assert inference.decode_j_per_token(8) == pytest.approx(0.12)
    # Linear in active parameters: 70 B costs 70/8 as much.
    assert inference.decode_j_per_token(70) == pytest.approx(0.12 * 70 / 8)
    assert inference.decode_j_per_token(8, inference.DECODE_J_PER_TOKEN_HIGH) == pytest.approx(0.20)


def test_dense_model_energy_hand_worked(catalogue):
    spec = catalogue.find("openai", "gpt-4o-mini").spec  # 8 B dense
    h100 = catalogue.hardware.accelerator("H100")
    est = estimate_inference(spec, TokenUsage(input=1000, output=500), h100)
    decode_j = 500 * 0.12
    prefill_j = 1000 * 2 * 8e9 / (9.89e14 / 700 * 0.4)  # 2·P FLOP at 40 % of peak FLOP/J
    assert est.accelerator_j.mid == pytest.approx(decode_j + prefill_j)
    # GPU time = energy / (0.7 × 700 W).
    assert est.gpu_seconds.mid == pytest.approx((decode_j + prefill_j) / 490)


def test_embodied_share_hand_worked(catalogue):
    spec = catalogue.find("openai", "gpt-4o-mini").spec
    h100 = catalogue.hardware.accelerator("H100")
    est = estimate_inference(spec, TokenUsage(output=1000), h100)  # 120 J -> 120/490 GPU·s
    grams = inference.embodied_share_g(est, catalogue.hardware, h100, lifespan_years=4)
    te_g = (164 + 5700 / 8) * 1000
    assert grams == pytest.approx(te_g * (120 / 490) / (4 * 365.25 * 86400))


def test_cached_input_costs_a_tenth_of_prefill(catalogue):
    spec = catalogue.find("openai", "gpt-4o-mini").spec
    h100 = catalogue.hardware.accelerator("H100")
    uncached = estimate_inference(spec, TokenUsage(input=1000), h100).accelerator_j.mid
    cached = estimate_inference(spec, TokenUsage(input=1000, cached_input=1000), h100).accelerator_j.mid
    assert cached == pytest.approx(uncached * 0.1)


def test_reasoning_tokens_outside_output_are_added(catalogue):
    spec = catalogue.find("openai", "gpt-4o-mini").spec
    h100 = catalogue.hardware.accelerator("H100")
    inside = estimate_inference(spec, TokenUsage(output=1000, reasoning=800), h100).accelerator_j.mid
    plain = estimate_inference(spec, TokenUsage(output=1000), h100).accelerator_j.mid
    outside = estimate_inference(spec, TokenUsage(output=200, reasoning=800), h100).accelerator_j.mid
    assert inside == pytest.approx(plain)  # a subset, per the convention
    assert outside == pytest.approx(plain)  # reported beside output: 200 + 800


def test_ranges_are_ordered_for_a_closed_model(catalogue):
    est = estimate_inference(catalogue.find("openai", "gpt-4o").spec, TokenUsage(100, 300), catalogue.hardware.accelerator(None))
    assert est.accelerator_j.low < est.accelerator_j.mid < est.accelerator_j.high


def test_shipped_catalogue_is_consistent():
    shipped = Catalogue.default()
    for name, spec in shipped._by_name.items():
        assert spec.params_active_b.mid <= spec.params_total_b.mid * 1.0001, name
        assert spec.provider is None or shipped.provider(spec.provider) is not None, name
    for pattern, _ in shipped._classes:
        assert isinstance(pattern, re.Pattern)
    for key, provider in shipped.providers.items():
        assert 1.0 <= provider.pue <= 2.0, key


@pytest.mark.parametrize(
    "provider, model",
    [
        ("openai", "gpt-4o"), ("openai", "gpt-4o-mini"), ("openai", "text-embedding-3-small"),
        ("anthropic", "claude-sonnet-4-5"), ("anthropic", "claude-haiku-4-5"), ("gcp.gemini", "gemini-2.5-flash"),
        ("mistral_ai", "mistral-large-latest"), ("cohere", "command-r-plus"), ("deepseek", "deepseek-chat"),
        ("groq", "llama-3.1-8b-instant"),
    ],
)
def test_shipped_catalogue_knows_current_models(provider, model):
    match = Catalogue.default().find(provider, model)
    assert match.match == "exact", (provider, model, match.spec.name)
