"""Region pickers for SDK clients: route once, then build the client where the grid is cleanest.

    decision = pick(router, input_tokens=800, output_tokens=200, constraints=Constraints.of(allowed_regions=["EU"]))
    client = openai.AzureOpenAI(api_version="2024-10-21", **azure_openai_kwargs(decision, endpoints))
    client = anthropic.AnthropicBedrock(**anthropic_bedrock_kwargs(decision))
    client = anthropic.AnthropicVertex(project_id="p", **anthropic_vertex_kwargs(decision))
    client = genai.Client(project="p", **google_genai_kwargs(decision))

The router's deployments carry the cloud regions (``azure:swedencentral``,
``aws:eu-north-1``, ``gcp:europe-west1``…).  OpenAI-compatible endpoints
(Azure OpenAI resources, regional gateways) are per deployment:
``endpoints`` maps a deployment name to its URL.  No SDK is imported here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from otel_carbon.routing.record import Recorder, default_recorder
from otel_carbon.routing.router import CarbonRouter, Constraints, Decision


def pick(
    router: CarbonRouter,
    *,
    input_tokens: int,
    output_tokens: int,
    constraints: Constraints | None = None,
    recorder: Recorder | None = None,
) -> Decision:
    """``router.choose`` and record the decision on the current span and in the metrics."""
    decision = router.choose(input_tokens, output_tokens, constraints)
    (recorder or default_recorder()).decision(decision)
    return decision


def openai_kwargs(decision: Decision, endpoints: Mapping[str, str]) -> dict[str, Any]:
    """``base_url`` for ``openai.OpenAI`` (an OpenAI-compatible regional endpoint per deployment)."""
    return {"base_url": _endpoint(decision, endpoints)}


def azure_openai_kwargs(decision: Decision, endpoints: Mapping[str, str]) -> dict[str, Any]:
    """``azure_endpoint`` for ``openai.AzureOpenAI`` (the Azure OpenAI resource in the chosen region)."""
    _cloud_region(decision, "azure")
    return {"azure_endpoint": _endpoint(decision, endpoints)}


def anthropic_bedrock_kwargs(decision: Decision) -> dict[str, Any]:
    """``aws_region`` for ``anthropic.AnthropicBedrock``."""
    return {"aws_region": _cloud_region(decision, "aws")}


def anthropic_vertex_kwargs(decision: Decision) -> dict[str, Any]:
    """``region`` for ``anthropic.AnthropicVertex``."""
    return {"region": _cloud_region(decision, "gcp")}


def google_genai_kwargs(decision: Decision) -> dict[str, Any]:
    """``vertexai`` + ``location`` for ``google.genai.Client``."""
    return {"vertexai": True, "location": _cloud_region(decision, "gcp")}


def _endpoint(decision: Decision, endpoints: Mapping[str, str]) -> str:
    name = decision.chosen.name
    if name not in endpoints:
        raise ValueError(f"no endpoint given for deployment {name!r}")
    return endpoints[name]


def _cloud_region(decision: Decision, cloud: str) -> str:
    """The chosen deployment's region name in ``cloud``; ``ValueError`` when it is elsewhere."""
    deployment = decision.chosen.deployment
    provider, _, region = (deployment.region or "").partition(":")
    if provider != cloud:
        raise ValueError(f"deployment {deployment.name!r} is not a {cloud} region ({deployment.region or deployment.zone})")
    return region
