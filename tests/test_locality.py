"""Where a call ran: local inference, a remote provider, or a local relay (proxy) to a hosted model."""

from __future__ import annotations

import pytest

from otel_carbon import semconv as sc
from otel_carbon.config import CarbonSettings
from otel_carbon.estimate.catalogue import Catalogue
from otel_carbon.locality import is_loopback_host, is_private_host, place_call
from otel_carbon.processors.enrich import EnrichmentContext, enrich

CATALOGUE = Catalogue.default()


@pytest.mark.parametrize("host, loopback, private", [
    ("localhost", True, True), ("api.localhost", True, True), ("127.0.0.1", True, True), ("[::1]", True, True),
    ("10.1.2.3", False, True), ("192.168.0.7", False, True), ("fd00::1", False, True), ("169.254.1.1", False, True),
    ("api.openai.com", False, False), ("8.8.8.8", False, False), ("", False, False),
])
def test_host_classes(host, loopback, private):
    assert (is_loopback_host(host), is_private_host(host)) == (loopback, private)


@pytest.mark.parametrize("provider, model, address, expected", [
    ("openai", "gpt-4o", "127.0.0.1", (False, "openai", True)),  # a LiteLLM proxy / sidecar / mock
    ("vllm", "gpt-4o-2024-08-06", "10.0.0.5", (False, "openai", True)),  # named by port, still gpt-4o
    ("anthropic", "claude-sonnet-4-5", "localhost", (False, "anthropic", True)),
    ("openai", "gpt-oss-20b", "127.0.0.1", (True, "openai", False)),  # open weights: served here
    ("ollama", "llama3.1:8b", "127.0.0.1", (True, "ollama", False)),  # unknown to the catalogue: local
    ("openai", "gpt-4o", "api.openai.com", (False, "openai", False)),
    ("transformers", "gpt2", None, (True, "transformers", False)),
    ("openai", "gpt-4o", None, (False, "openai", False)),
])
def test_place_call(provider, model, address, expected):
    placement = place_call(provider, model, address, 8000, catalogue=CATALOGUE)
    assert (placement.local, placement.provider, placement.proxied) == expected


@pytest.mark.parametrize("endpoints", [("127.0.0.1",), ("127.0.0.1:8000",), ("localhost:9", "127.0.0.1:8000")])
def test_a_named_local_endpoint_is_local_inference_whatever_the_model(endpoints):
    assert place_call("openai", "gpt-4o", "127.0.0.1", 8000, catalogue=CATALOGUE, local_endpoints=endpoints).local
    assert not place_call("openai", "gpt-4o", "127.0.0.1", 8001, catalogue=CATALOGUE,
                          local_endpoints=("127.0.0.1:8000",)).local


def test_a_proxied_call_is_estimated_at_the_providers_zone_and_price_even_when_measured():
    span = {sc.GEN_AI_PROVIDER_NAME: "openai", sc.GEN_AI_REQUEST_MODEL: "gpt-4o", sc.SERVER_ADDRESS: "127.0.0.1",
            sc.SERVER_PORT: 4000, sc.GEN_AI_USAGE_INPUT_TOKENS: 1000, sc.GEN_AI_USAGE_OUTPUT_TOKENS: 500,
            sc.SCI_MEASURED_HOST: 0.001, sc.SCI_MEASURED_DURATION: 0.01}
    proxied = enrich(span, {}, EnrichmentContext(settings=CarbonSettings(zone="FR"))).attributes
    assert proxied[sc.SCI_PROXIED] is True and proxied[sc.SCI_ENERGY_METHOD] == "estimated"
    assert proxied[sc.SCI_INTENSITY_ZONE] == "US" and proxied[sc.GEN_AI_USAGE_COST] > 0
    local = enrich(span, {}, EnrichmentContext(settings=CarbonSettings(zone="FR", local_endpoints=("127.0.0.1:4000",))))
    assert local.attributes[sc.SCI_ENERGY_METHOD] == "measured" and local.attributes[sc.SCI_INTENSITY_ZONE] == "FR"
    assert sc.SCI_PROXIED not in local.attributes and sc.GEN_AI_USAGE_COST not in local.attributes


def test_local_endpoints_setting_from_the_environment():
    settings = CarbonSettings.from_env({"OTEL_CARBON_LOCAL_ENDPOINTS": "127.0.0.1:8000, gpu-box.internal"})
    assert settings.local_endpoints == ("127.0.0.1:8000", "gpu-box.internal")


def test_a_named_endpoint_reached_by_host_name_is_local():
    assert place_call("openai", "llama-3.1-8b-instruct", "gpu-box.internal", 443, catalogue=CATALOGUE,
                      local_endpoints=("gpu-box.internal",)).local
    assert not place_call("openai", "llama-3.1-8b-instruct", "gpu-box.internal", 443, catalogue=CATALOGUE).local
