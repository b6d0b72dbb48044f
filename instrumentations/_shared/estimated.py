"""Token counts estimated from text, for streams that report no usage.

An OpenAI chat stream reports usage only when the caller asked for
``stream_options={"include_usage": True}``.  Without it the call still ran and
burned energy; rather than a silent 0 the instrumentation estimates the counts
from the characters of the prompt and of the streamed text, at
:data:`CHARS_PER_TOKEN` characters per token (OpenAI's rule of thumb for English
text), and flags the span ``sci.usage.estimated=true``,
``sci.usage.method=chars/4``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from otel_carbon import semconv as sc

#: Characters per token of English text (OpenAI's tokenizer guide).
CHARS_PER_TOKEN = 4
METHOD = f"chars/{CHARS_PER_TOKEN}"
_MAX_DEPTH = 8


def text_chars(value: Any, depth: int = 0) -> int:
    """Characters of text in a prompt: strings, and the text inside lists and content parts."""
    if isinstance(value, str):
        return len(value)
    if depth >= _MAX_DEPTH:
        return 0
    if isinstance(value, Mapping):
        return sum(text_chars(v, depth + 1) for k, v in value.items() if k in ("content", "text", "input", "arguments"))
    if isinstance(value, (list, tuple)):
        return sum(text_chars(v, depth + 1) for v in value)
    return 0


def tokens(chars: int) -> int:
    """Tokens for ``chars`` characters of text (at least 1 for any text)."""
    return math.ceil(chars / CHARS_PER_TOKEN)


def estimated_usage(input_chars: int, output_chars: int) -> dict[str, Any]:
    """Span attributes for token counts estimated from text, flagged as such."""
    return {
        sc.GEN_AI_USAGE_INPUT_TOKENS: tokens(input_chars),
        sc.GEN_AI_USAGE_OUTPUT_TOKENS: tokens(output_chars),
        sc.SCI_USAGE_ESTIMATED: True,
        sc.SCI_USAGE_METHOD: METHOD,
    }
