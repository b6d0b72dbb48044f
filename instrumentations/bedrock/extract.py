"""Pure functions from Bedrock Runtime ``Converse`` / ``ConverseStream`` / ``InvokeModel`` /
``InvokeModelWithResponseStream`` calls to span facts.

The call is ``BaseClient._make_api_call(operation_name, api_params)`` on a
``bedrock-runtime`` client: the model is ``api_params["modelId"]`` (a model id,
an inference profile or an ARN), the request parameters sit in
``inferenceConfig``, the endpoint is the client's ``meta.endpoint_url`` and the
region its ``meta.region_name``.  No credential is read.

Bedrock's ``usage.inputTokens`` excludes the tokens read from or written to the
prompt cache (``cacheReadInputTokens`` / ``cacheWriteInputTokens``); the GenAI
conventions count them inside input tokens, so they are added back.  Converse
responses name no model and no response id (the request id is the HTTP
request's, not the generation's), so neither is recorded.

``InvokeModel`` bodies are each model's own format; their counts are read
where Bedrock puts them for every model, never from the caller's body: the
``X-Amzn-Bedrock-*-Token-Count`` response headers, and the
``amazon-bedrock-invocationMetrics`` of a stream's last chunk.  No stop
reason is recorded for them (it is only in the model-specific body).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from otel_carbon import semconv as sc
from otel_carbon.instrumentations._shared import Request, Response, capture_content, provider_from_base_url
from otel_carbon.instrumentations._shared.fields import count, get_path
from otel_carbon.instrumentations._shared.invocation import finish_reasons

#: Operations of the ``bedrock-runtime`` service that return an event stream.
STREAMING = frozenset({"ConverseStream", "InvokeModelWithResponseStream"})
_METRICS_KEY = "amazon-bedrock-invocationMetrics"
_METRICS_MARKER = _METRICS_KEY.encode()


def request(client: Any, args: tuple, kwargs: Mapping[str, Any]) -> Request:
    """Start facts of ``client._make_api_call(operation_name, api_params)`` (positional or keyword)."""
    operation = args[0] if args else kwargs.get("operation_name")
    params = (args[1] if len(args) > 1 else kwargs.get("api_params")) or {}
    meta = getattr(client, "meta", None)
    endpoint = provider_from_base_url(getattr(meta, "endpoint_url", None), sc.PROVIDER_AWS_BEDROCK)
    config = params.get("inferenceConfig") or {}
    attributes: dict[str, Any] = {
        sc.GEN_AI_REQUEST_MAX_TOKENS: count(config.get("maxTokens")),
        sc.GEN_AI_REQUEST_TEMPERATURE: config.get("temperature"),
        sc.GEN_AI_REQUEST_TOP_P: config.get("topP"),
        sc.CLOUD_REGION: getattr(meta, "region_name", None),
    }
    if capture_content() and params.get("messages") is not None:
        attributes[sc.GEN_AI_INPUT_MESSAGES] = json.dumps(params.get("messages"), default=str)
        if params.get("system") is not None:
            attributes[sc.GEN_AI_SYSTEM_INSTRUCTIONS] = json.dumps(params["system"], default=str)
    return Request(
        operation="chat",
        # whatever the host: a Bedrock client always speaks to Bedrock (or a stand-in)
        provider=sc.PROVIDER_AWS_BEDROCK,
        model=params.get("modelId"),
        server_address=endpoint.address,
        server_port=endpoint.port,
        stream=operation in STREAMING,
        local=endpoint.local,
        attributes={k: v for k, v in attributes.items() if v is not None},
    )


def counts_response(stop_reason: Any, fresh: Any, output: Any, cache_read: Any, cache_write: Any) -> Response:
    """Convention token counts from Bedrock's: ``fresh`` input excludes the cache reads and writes."""
    cache_read, cache_write, fresh = count(cache_read), count(cache_write), count(fresh)
    return Response(
        finish_reasons=finish_reasons([stop_reason]),
        input_tokens=None if fresh is None else fresh + (cache_read or 0) + (cache_write or 0),
        output_tokens=count(output),
        cache_read_tokens=cache_read,
        cache_write_tokens=cache_write,
    )


def usage_response(stop_reason: Any, usage: Any) -> Response:
    """Convention token counts from a Converse ``TokenUsage``."""
    return counts_response(
        stop_reason,
        get_path(usage, "inputTokens"),
        get_path(usage, "outputTokens"),
        get_path(usage, "cacheReadInputTokens"),
        get_path(usage, "cacheWriteInputTokens"),
    )


def _texts(content: Any) -> list[str]:
    return [block["text"] for block in content or () if isinstance(block, dict) and isinstance(block.get("text"), str)]


def converse_response(result: Any) -> Response:
    """Facts of a parsed ``Converse`` response (a dict)."""
    response = usage_response(get_path(result, "stopReason"), get_path(result, "usage"))
    if capture_content():
        texts = _texts(get_path(result, "output", "message", "content"))
        response.attributes[sc.GEN_AI_OUTPUT_MESSAGES] = json.dumps(texts)
    return response


class ConverseStreamEvents:
    """Accumulates parsed ``ConverseStream`` events: ``messageStop`` says the stop reason,
    ``metadata`` the usage; ``contentBlockDelta`` texts are kept only when content capture is on."""

    def __init__(self) -> None:
        self._stop: Any = None
        self._usage: Any = None
        self._texts: list[str] | None = [] if capture_content() else None

    def add(self, event: Any) -> None:
        if not isinstance(event, dict):
            return
        if "contentBlockDelta" in event:
            if self._texts is not None:
                text = get_path(event["contentBlockDelta"], "delta", "text")
                if isinstance(text, str):
                    self._texts.append(text)
        elif "messageStop" in event:
            self._stop = get_path(event["messageStop"], "stopReason")
        elif "metadata" in event:
            self._usage = get_path(event["metadata"], "usage")

    def response(self) -> Response:
        response = usage_response(self._stop, self._usage)
        if self._texts is not None:
            response.attributes[sc.GEN_AI_OUTPUT_MESSAGES] = json.dumps(["".join(self._texts)])
        return response


def _header_count(headers: Any, name: str) -> int | None:
    value = headers.get(f"x-amzn-bedrock-{name}-token-count") if isinstance(headers, dict) else None
    return int(value) if isinstance(value, str) and value.isdigit() else None


def invoke_response(result: Any) -> Response:
    """Facts of an ``InvokeModel`` result, from the response headers (the body is left unread)."""
    headers = get_path(result, "ResponseMetadata", "HTTPHeaders")  # botocore lower-cases the names
    return counts_response(
        None,
        _header_count(headers, "input"),
        _header_count(headers, "output"),
        _header_count(headers, "cache-read-input"),
        _header_count(headers, "cache-write-input"),
    )


class InvocationMetrics:
    """Accumulates ``InvokeModelWithResponseStream`` chunks: only the one with
    ``amazon-bedrock-invocationMetrics`` (the last) is parsed."""

    def __init__(self) -> None:
        self._metrics: Any = None

    def add(self, event: Any) -> None:
        payload = get_path(event, "chunk", "bytes")
        if isinstance(payload, bytes) and _METRICS_MARKER in payload:
            self._metrics = get_path(json.loads(payload), _METRICS_KEY)

    def response(self) -> Response:
        metrics = self._metrics
        return counts_response(
            None,
            get_path(metrics, "inputTokenCount"),
            get_path(metrics, "outputTokenCount"),
            get_path(metrics, "cacheReadInputTokenCount"),
            get_path(metrics, "cacheWriteInputTokenCount"),
        )
