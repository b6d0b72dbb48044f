"""What every SDK instrumentation needs once.

* :class:`Invocation` — one GenAI call's span: opened with the attributes known
  at start (:class:`Request`), finished exactly once with the response facts
  (:class:`Usage` and friends) or an error, with an energy window for local calls.
* :class:`SyncStream` / :class:`AsyncStream` — proxies around an SDK stream that
  feed each chunk to an accumulator and end the span exactly once: drained,
  ``break`` + ``close()``, context-manager exit, garbage collection, or an error.
* :func:`provider_from_base_url` — GenAI provider name and locality of an
  OpenAI-compatible endpoint.
* :func:`capture_content` — whether prompts and completions may be recorded.
"""

from otel_carbon.instrumentations._shared.content import capture_content
from otel_carbon.instrumentations._shared.endpoint import Endpoint, provider_from_base_url
from otel_carbon.instrumentations._shared.invocation import Invocation, Request, Response
from otel_carbon.instrumentations._shared.stream import AsyncStream, SyncStream

__all__ = [
    "AsyncStream",
    "Endpoint",
    "Invocation",
    "Request",
    "Response",
    "SyncStream",
    "capture_content",
    "provider_from_base_url",
]
