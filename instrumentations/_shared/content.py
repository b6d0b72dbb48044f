"""The opt-in for recording prompt and completion text (off by default)."""

from __future__ import annotations

import json
import os
from typing import Any

#: The GenAI conventions' opt-in variable.
CAPTURE_CONTENT_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"


def capture_content() -> bool:
    """True only when the user set the GenAI content-capture variable to ``true``."""
    return os.environ.get(CAPTURE_CONTENT_ENV, "").strip().lower() in ("true", "1", "span_only", "span_and_event")


def content_json(value: Any) -> str:
    """JSON of prompt or completion content: SDK (pydantic) objects dumped, anything else as text."""

    def default(obj: Any) -> Any:
        dump = getattr(obj, "model_dump", None)
        return dump(mode="json", exclude_none=True) if callable(dump) else str(obj)

    return json.dumps(value, default=default)
