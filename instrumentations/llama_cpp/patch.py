"""What the llama-cpp-python instrumentation wraps: three inference methods of ``llama_cpp.Llama``.

``Llama.__call__`` calls ``create_completion``, so it is covered without a
wrapper of its own.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from otel_carbon.instrumentations.llama_cpp import extract

MODULE = "llama_cpp.llama"

#: (method of ``Llama``, GenAI operation)
METHODS: tuple[tuple[str, str], ...] = (
    ("create_completion", "text_completion"),
    ("create_chat_completion", "chat"),
    ("create_embedding", "embeddings"),
)


def start_for(operation: str) -> Any:
    """The ``start`` extractor of one wrapped method."""
    return partial(extract.request, operation)
