"""Region pickers with the real SDK clients: requests reach the chosen loopback endpoint; clients get the region."""

from __future__ import annotations

import anthropic
import openai
import pytest
from routing_support import SETTINGS, live_grid

from otel_carbon.cli.demo_server import LLMServer
from otel_carbon.routing import CarbonRouter, Constraints, deployments_from_list
from otel_carbon.routing.clients import (
    anthropic_bedrock_kwargs,
    anthropic_vertex_kwargs,
    azure_openai_kwargs,
    google_genai_kwargs,
    openai_kwargs,
    pick,
)

API_KEY = "sk-clients-test-secret"
MESSAGES = [{"role": "user", "content": "Hello?"}]


def decide(grid, regions, constraints=None):
    entries = [{"name": n, "provider": p, "model": m, "region": r, "p95_ms": ms} for n, p, m, r, ms in regions]
    router = CarbonRouter(deployments_from_list(entries), intensity=grid.cache, settings=SETTINGS, clock=grid.clock)
    return pick(router, input_tokens=500, output_tokens=100, constraints=constraints)


def test_openai_and_azure_openai_clients_call_the_chosen_region() -> None:
    regions = [("sweden", "azure.ai.openai", "gpt-4o-mini", "azure:swedencentral", 1400),
               ("virginia", "azure.ai.openai", "gpt-4o-mini", "azure:eastus", 600)]
    with LLMServer() as sweden, LLMServer() as virginia, live_grid() as grid:
        servers = {"sweden": sweden, "virginia": virginia}
        decision = decide(grid, regions)
        assert decision.chosen.name == "sweden"
        client = openai.OpenAI(api_key=API_KEY, max_retries=0,
                               **openai_kwargs(decision, {n: s.url for n, s in servers.items()}))
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
        fast = decide(grid, regions, Constraints.of(max_latency_ms=1000))
        azure = openai.AzureOpenAI(api_key=API_KEY, api_version="2024-10-21", max_retries=0,
                                   **azure_openai_kwargs(fast, {n: s.root_url for n, s in servers.items()}))
        azure.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
        assert [len(sweden.requests), len(virginia.requests)] == [1, 1]
        assert virginia.requests[0][0].startswith("/openai/deployments/gpt-4o-mini/chat/completions")


def test_anthropic_bedrock_and_vertex_clients_get_the_region() -> None:
    with live_grid() as grid:
        bedrock = decide(grid, [("stockholm", "aws.bedrock", "claude-3-5-haiku", "aws:eu-north-1", 900),
                                ("frankfurt", "aws.bedrock", "claude-3-5-haiku", "aws:eu-central-1", 700)])
        client = anthropic.AnthropicBedrock(aws_access_key="AKIDEXAMPLE", aws_secret_key="secret",
                                            **anthropic_bedrock_kwargs(bedrock))
        assert client.aws_region == "eu-north-1" and "eu-north-1" in str(client.base_url)
        vertex = decide(grid, [("belgium", "gcp.vertex_ai", "claude-3-5-haiku", "gcp:europe-west1", 900),
                               ("warsaw", "gcp.vertex_ai", "claude-3-5-haiku", "gcp:europe-central2", 900)])
        client_v = anthropic.AnthropicVertex(project_id="p", access_token="token", **anthropic_vertex_kwargs(vertex))
        assert client_v.region == vertex.chosen.deployment.region.partition(":")[2] == "europe-west1"
        with pytest.raises(ValueError, match="not a aws region"):
            anthropic_bedrock_kwargs(vertex)


def test_google_genai_client_gets_the_vertex_location() -> None:
    genai = pytest.importorskip("google.genai", reason="google-genai is not installed")
    credentials = pytest.importorskip("google.oauth2.credentials", reason="google-auth is not installed")
    with live_grid() as grid:
        decision = decide(grid, [("iowa", "gcp.vertex_ai", "gemini-2.5-flash", "gcp:us-central1", 500),
                                 ("finland", "gcp.vertex_ai", "gemini-2.5-flash", "gcp:europe-north1", 700)],
                          Constraints.of(allowed_regions=["EU"]))
        client = genai.Client(project="p", credentials=credentials.Credentials(token="t"),
                              **google_genai_kwargs(decision))
        assert client._api_client.location == "europe-north1" and client.vertexai
