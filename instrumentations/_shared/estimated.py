"""Token counts estimated from text, for streams that report no usage.

An OpenAI chat stream reports usage only when the caller asked for
``stream_options={"include_usage": True}``.  Without it the call still ran and
burned energy; rather than a silent 0 the instrumentation estimates the counts
from the characters of the prompt and of the streamed text, at
:data:`~otel_carbon.estimate.tokens.CHARS_PER_TOKEN` characters per token (OpenAI's rule of
thumb for English text), and flags the span ``sci.usage.estimated=true``,
``sci.usage.method=chars/4``.
"""

from __future__ import annotations

from typing import Any

from otel_carbon import semconv as sc
from otel_carbon.estimate.tokens import CHARS_PER_TOKEN, tokens

METHOD = f"chars/{CHARS_PER_TOKEN}"


def estimated_usage(input_chars: int, output_chars: int) -> dict[str, Any]:
    """Span attributes for token counts estimated from text, flagged as such."""
    return {
        sc.GEN_AI_USAGE_INPUT_TOKENS: tokens(input_chars),
        sc.GEN_AI_USAGE_OUTPUT_TOKENS: tokens(output_chars),
        sc.SCI_USAGE_ESTIMATED: True,
        sc.SCI_USAGE_METHOD: METHOD,
    }
