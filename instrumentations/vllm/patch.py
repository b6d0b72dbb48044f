"""What the vLLM instrumentation wraps: the offline batch methods of ``vllm.LLM`` this version has.

``LLM.chat`` may run ``generate`` inside it; the shared wrappers make that
nested call no second span.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from otel_carbon.instrumentations.vllm import extract

MODULE = "vllm.entrypoints.llm"

#: (method of ``LLM``, GenAI operation)
METHODS: tuple[tuple[str, str], ...] = (("generate", "text_completion"), ("chat", "chat"), ("embed", "embeddings"))


def start_for(operation: str) -> Any:
    """The ``start`` extractor of one wrapped method."""
    return partial(extract.request, operation)
