"""Token counts from text, where no tokenizer's count is at hand: a stream that reported no
usage, a request being routed before it is sent.

:data:`CHARS_PER_TOKEN` characters per token is OpenAI's rule of thumb for English text.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

#: Characters per token of English text (OpenAI's tokenizer guide).
CHARS_PER_TOKEN = 4
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
