"""Pure functions from ``vllm.LLM`` calls and their ``RequestOutput`` lists to span facts.

One call is a batch: the span counts every prompt's tokens
(``prompt_token_ids``), every completion's tokens (``outputs[i].token_ids``)
and the prompt tokens vLLM's prefix cache served (``num_cached_tokens``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from otel_carbon import semconv as sc
from otel_carbon.instrumentations._shared import Request, Response, capture_content
from otel_carbon.instrumentations._shared.fields import count, get_path
from otel_carbon.instrumentations._shared.invocation import finish_reasons

#: ``gen_ai.provider.name`` of in-process vLLM inference.

_PARAMETERS = (
    (sc.GEN_AI_REQUEST_MAX_TOKENS, "max_tokens"),
    (sc.GEN_AI_REQUEST_TEMPERATURE, "temperature"),
    (sc.GEN_AI_REQUEST_TOP_P, "top_p"),
)
# Where each method takes its inputs and its sampling parameters: (first argument, second argument).
_ARGUMENTS = {"text_completion": ("prompts", "sampling_params"), "chat": ("messages", "sampling_params"),
              "embeddings": ("prompts", "pooling_params")}


def model_name(llm: Any) -> str | None:
    """The model the engine serves (``llm.llm_engine.model_config.model``: a hub id or a path)."""
    model = get_path(llm, "llm_engine", "model_config", "model")
    return str(model) if model else None


def _argument(args: tuple, kwargs: Mapping[str, Any], position: int, name: str) -> Any:
    return args[position] if len(args) > position else kwargs.get(name)


def _sampling_attributes(params: Any) -> dict[str, Any]:
    """Attributes of one ``SamplingParams`` (a list of them, one per prompt, records none)."""
    if params is None or isinstance(params, (list, tuple)):
        return {}
    attributes = {}
    for attribute, name in _PARAMETERS:
        value = getattr(params, name, None)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            attributes[attribute] = value
    return attributes


def request(operation: str, llm: Any, args: tuple, kwargs: Mapping[str, Any]) -> Request:
    """Start facts of ``operation`` on ``llm``: in process, so INTERNAL and measured (``local``)."""
    inputs_name, params_name = _ARGUMENTS[operation]
    attributes = _sampling_attributes(_argument(args, kwargs, 1, params_name))
    if capture_content():
        attributes[sc.GEN_AI_INPUT_MESSAGES] = json.dumps(_argument(args, kwargs, 0, inputs_name), default=str)
    return Request(
        operation=operation, provider=sc.PROVIDER_VLLM, model=model_name(llm), local=True, attributes=attributes
    )


def _total(values: Iterable[Any]) -> int | None:
    counted = [c for c in (count(v) for v in values) if c is not None]
    return sum(counted) if counted else None


def outputs_response(outputs: Any) -> Response:
    """Facts of the ``list[RequestOutput]`` (or pooling outputs) one call returned."""
    requests = list(outputs or ())
    completions = [c for r in requests for c in _completions(r)]
    return Response(
        input_tokens=_total(len(ids) for r in requests if (ids := get_path(r, "prompt_token_ids")) is not None),
        output_tokens=_total(len(ids) for c in completions if (ids := get_path(c, "token_ids")) is not None),
        cache_read_tokens=_total(get_path(r, "num_cached_tokens") for r in requests),
        finish_reasons=finish_reasons([get_path(c, "finish_reason") for c in completions]),
    )


def _completions(request_output: Any) -> list[Any] | tuple[Any, ...]:
    """A request's completions (a pooling request's ``outputs`` is one embedding, not a list)."""
    outputs = get_path(request_output, "outputs")
    return outputs if isinstance(outputs, (list, tuple)) else ()
