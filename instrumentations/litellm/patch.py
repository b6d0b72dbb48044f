"""What the LiteLLM instrumentation wraps: the public functions of the ``litellm`` namespace.

``litellm.completion`` is not ``litellm.main.completion``: since LiteLLM's
native dispatch layer, the namespace holds a dispatcher
(``litellm.chat_completions.dispatch``, ``litellm.embeddings.dispatch``) that
keeps its own reference to the Python implementation in ``litellm.main`` and
may serve a call natively instead.  So the namespace attribute, the one
``litellm.completion(...)`` resolves, is the seam; wrapping ``litellm.main``
would miss every call.  Code that imported a function by name before
instrumenting keeps the unwrapped one.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from otel_carbon.instrumentations.litellm import extract

# (function of the ``litellm`` namespace, operation, asynchronous, extractor of the result)
FUNCTIONS: tuple[tuple[str, str, bool, Callable[[Any], Any]], ...] = (
    ("completion", "chat", False, extract.completion_response),
    ("acompletion", "chat", True, extract.completion_response),
    ("embedding", "embeddings", False, extract.embedding_response),
    ("aembedding", "embeddings", True, extract.embedding_response),
)


def start_for(operation: str, resolve: extract.ProviderResolver) -> Any:
    """The ``start`` extractor of ``operation`` (``chat`` or ``embeddings``)."""
    return partial(extract.request, operation, resolve)
