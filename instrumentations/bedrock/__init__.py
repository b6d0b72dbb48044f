"""Amazon Bedrock instrumentation: the Bedrock Runtime ``Converse``, ``ConverseStream``, ``InvokeModel``
and ``InvokeModelWithResponseStream`` operations of ``boto3`` / ``botocore`` clients.

    from otel_carbon.instrumentations.bedrock import BedrockInstrumentor
    BedrockInstrumentor().instrument()

    client = boto3.client("bedrock-runtime", region_name="eu-west-1")
    client.converse(modelId="anthropic.claude-3-haiku-20240307-v1:0", messages=[...])

Every other AWS call passes through untouched.  The span carries the client's
region (``cloud.region``) and endpoint; token counts follow the GenAI
conventions (input tokens include prompt-cache reads and writes, which are
also recorded on their own); ``InvokeModel`` counts come from Bedrock's
response headers and stream metrics, whatever the model's body format.  Event
streams are proxied: the span ends when the stream is drained, closed or left.
No credential (keys, session token, Bedrock API key) is ever read.

The official ``opentelemetry-instrumentation-botocore`` also makes GenAI spans
for these operations; enable one of the two, or each call is counted twice.
``aiobotocore`` clients are not instrumented.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from opentelemetry.instrumentation.utils import unwrap
from opentelemetry.trace import Tracer
from wrapt import wrap_function_wrapper

from otel_carbon.instrumentations._shared.deferred import DeferredInstrumentor
from otel_carbon.instrumentations.bedrock.package import _instruments
from otel_carbon.instrumentations.bedrock.patch import make_api_call_wrapper


class BedrockInstrumentor(DeferredInstrumentor):
    """Spans for Bedrock Runtime inference calls, with the GenAI attributes our carbon processor reads."""

    _module = "botocore.client"

    def instrumentation_dependencies(self) -> Collection[str]:
        return _instruments

    def _patch(self, tracer: Tracer, **kwargs: Any) -> None:
        wrap_function_wrapper(self._module, "BaseClient._make_api_call", make_api_call_wrapper(tracer))

    def _unpatch(self) -> None:
        from botocore.client import BaseClient

        unwrap(BaseClient, "_make_api_call")
