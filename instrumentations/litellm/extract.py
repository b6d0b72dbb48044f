"""Pure functions from LiteLLM calls, responses and stream chunks to span facts.

LiteLLM answers every provider in OpenAI's shape (``ModelResponse``,
``ModelResponseStream`` chunks, ``EmbeddingResponse``), so responses are read
by the shared OpenAI-compatible readers
(:mod:`otel_carbon.instrumentations._shared.openai_compatible`).  Its
``usage.prompt_tokens`` already includes cache reads and writes (as the GenAI
conventions count input tokens); ``cache_creation_input_tokens`` says the
writes.  LiteLLM's own price of the
call (``response_cost``, USD, from its cost map) is recorded as
``gen_ai.usage.cost`` and wins over our catalogue's.

What differs is the call: a module function with the provider in the model
string (``anthropic/claude-…``) or in ``custom_llm_provider=``, and the
endpoint in ``api_base=`` (or ``base_url=``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from otel_carbon import semconv as sc
from otel_carbon.instrumentations._shared import Request, Response
from otel_carbon.instrumentations._shared.fields import count, get_path
from otel_carbon.instrumentations._shared.openai_compatible import ChatChunks, chat_response, embeddings_response
from otel_carbon.instrumentations._shared.request import request_from_call

#: The generic name when LiteLLM's provider of a model cannot be told.
DEFAULT_PROVIDER = sc.PROVIDER_LITELLM

#: Positional parameters of the wrapped functions, in order (``completion(model, messages, …)``).
POSITIONAL: Mapping[str, tuple[str, ...]] = {"chat": ("model", "messages"), "embeddings": ("model", "input")}


@dataclasses.dataclass(frozen=True)
class ModelRoute:
    """Which LiteLLM provider a model string goes to, and the model name that provider is sent."""

    provider: str | None
    model: str


class ProviderResolver:
    """LiteLLM's provider of a model, resolved as LiteLLM does for the common cases but without its side effects.

    ``litellm.get_llm_provider`` prints a banner for models it cannot place;
    this reads only LiteLLM's provider list (a ``provider/`` prefix) and its
    model map (``model_cost[model]["litellm_provider"]``), never raising.
    """

    def __init__(self, litellm: Any) -> None:
        self._litellm = litellm
        self._prefixes = frozenset(str(getattr(p, "value", p)) for p in getattr(litellm, "provider_list", ()))

    def __call__(self, model: Any, custom_provider: Any = None) -> ModelRoute:
        name = str(model) if model is not None else ""
        prefix, slash, rest = name.partition("/")
        if custom_provider:
            return ModelRoute(str(custom_provider), rest if slash and prefix == custom_provider else name)
        if slash and prefix in self._prefixes:
            return ModelRoute(prefix, rest)
        entry = (getattr(self._litellm, "model_cost", None) or {}).get(name)
        provider = entry.get("litellm_provider") if isinstance(entry, dict) else None
        return ModelRoute(str(provider) if provider else None, name)


@dataclasses.dataclass(frozen=True)
class _Endpoint:
    """What :func:`request_from_call` reads of a client: its ``base_url``."""

    base_url: str | None


def request(operation: str, resolve: ProviderResolver, _instance: Any, args: tuple, kwargs: Mapping[str, Any]) -> Request:
    """Start facts of ``litellm.<function>(*args, **kwargs)`` for ``operation`` (``chat`` or ``embeddings``).

    The provider is LiteLLM's, mapped to the GenAI name; an ``api_base`` host
    the endpoint table knows (or a loopback one) refines it, as for OpenAI clients.
    """
    call = {**dict(zip(POSITIONAL[operation], args)), **kwargs}
    route = resolve(call.get("model"), call.get("custom_llm_provider"))
    provider = sc.LITELLM_PROVIDERS.get(route.provider or "", route.provider or DEFAULT_PROVIDER)
    base_url = call.get("api_base") or call.get("base_url")
    return request_from_call(
        operation, provider, _Endpoint(str(base_url) if base_url else None), {**call, "model": route.model or None},
        max_tokens_keys=("max_completion_tokens", "max_tokens"), content_keys=("messages", "input"),
    )


def _litellm_facts(response: Response, usage: Any, cost: Any) -> Response:
    """Add what LiteLLM reports beyond OpenAI's shape: cache writes and its price of the call."""
    response.cache_write_tokens = count(get_path(usage, "cache_creation_input_tokens")) or None
    if isinstance(cost, (int, float)) and not isinstance(cost, bool) and cost >= 0:
        response.attributes[sc.GEN_AI_USAGE_COST] = float(cost)
    return response


def _hidden_cost(result: Any) -> Any:
    hidden = getattr(result, "_hidden_params", None)
    return hidden.get("response_cost") if isinstance(hidden, dict) else None


def completion_response(result: Any) -> Response:
    """Facts of a ``ModelResponse``."""
    return _litellm_facts(chat_response(result), get_path(result, "usage"), _hidden_cost(result))


def embedding_response(result: Any) -> Response:
    """Facts of an ``EmbeddingResponse``."""
    return _litellm_facts(embeddings_response(result), get_path(result, "usage"), _hidden_cost(result))


class CompletionChunks:
    """Accumulates ``ModelResponseStream`` chunks; with ``stream_options={"include_usage": True}``
    the last carries the usage (and LiteLLM's ``usage.cost``)."""

    def __init__(self) -> None:
        self._chunks = ChatChunks()
        self._usage: Any = None

    def add(self, chunk: Any) -> None:
        self._chunks.add(chunk)
        self._usage = get_path(chunk, "usage") or self._usage

    def response(self) -> Response:
        return _litellm_facts(self._chunks.response(), self._usage, get_path(self._usage, "cost"))
