"""What the Ollama instrumentation wraps, and the module-level functions it re-binds.

``ollama.chat``, ``ollama.generate``, … are bound methods of a default
``Client`` made when ``ollama`` is imported; a bound method holds the
function it was bound to, so wrapping ``Client.chat`` does not reach them.
They are re-bound to the (now wrapped) methods of that same client, and put
back on uninstrument.  (A name imported before instrumenting, ``from ollama
import chat``, keeps the original.)
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from functools import partial
from types import MethodType
from typing import Any

from otel_carbon.instrumentations._shared import Response
from otel_carbon.instrumentations.ollama import extract

MODULE = "ollama._client"
CLASSES = ("Client", "AsyncClient")

#: (method, GenAI operation, extractor of a response or of a stream's final part)
METHODS: tuple[tuple[str, str, Callable[[Any], Response]], ...] = (
    ("chat", "chat", extract.chat_response),
    ("generate", "text_completion", extract.generate_response),
    ("embed", "embeddings", extract.embed_response),
    ("embeddings", "embeddings", extract.embed_response),  # deprecated, absent from some versions
)


def methods_of(cls: type) -> list[tuple[str, str, Callable[[Any], Response]]]:
    """The rows of :data:`METHODS` that ``cls`` defines."""
    return [row for row in METHODS if callable(getattr(cls, row[0], None))]


def start_for(cls: type, method: str, operation: str) -> Any:
    """The ``start`` extractor of ``cls.method``, knowing its positional parameter names."""
    parameters = list(inspect.signature(getattr(cls, method)).parameters.values())[1:]  # after self
    positional = [p.name for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return partial(extract.request, operation, tuple(positional))


def accumulator_for(finish: Callable[[Any], Response]) -> Callable[[], extract.StreamParts]:
    return partial(extract.StreamParts, finish)


def rebind_module_functions() -> dict[str, tuple[Any, Any]]:
    """Point ``ollama.<method>`` at the default client's wrapped methods: ``{name: (original, ours)}``."""
    package = importlib.import_module("ollama")
    default = getattr(package, "_client", None)
    rebound = {}
    for name, *_ in METHODS:
        original = getattr(package, name, None)
        if isinstance(original, MethodType) and original.__self__ is default:
            ours = getattr(default, name)
            setattr(package, name, ours)
            rebound[name] = (original, ours)
    return rebound


def restore_module_functions(rebound: dict[str, tuple[Any, Any]]) -> None:
    """Undo :func:`rebind_module_functions` where the name still holds what it put there."""
    package = importlib.import_module("ollama")
    for name, (original, ours) in rebound.items():
        if getattr(package, name, None) is ours:
            setattr(package, name, original)
