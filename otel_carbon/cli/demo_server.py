"""A loopback server speaking the OpenAI and Anthropic HTTP APIs (JSON and SSE), for the real SDKs.

It serves ``otel-carbon demo`` (real SDK calls with no key and no network) and
the test suite.  Standard library only.

Shapes follow the providers' API references: OpenAI ``/v1/chat/completions``
(``chat.completion`` / ``chat.completion.chunk`` objects, ``data: [DONE]``),
``/v1/embeddings``, ``/v1/responses`` (``response.*`` events); Anthropic
``/v1/messages`` (``message_start`` … ``message_stop`` events).  The model name
chooses a failure: ``fail-400``, ``fail-500``, ``fail-slow`` (sleeps past the
client timeout), ``fail-garbage`` (malformed stream / body).  Every request's
headers are kept so tests can check that no key leaks anywhere else.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar

PROMPT_TOKENS, COMPLETION_TOKENS, CACHED_TOKENS, REASONING_TOKENS = 42, 7, 32, 3
ANTHROPIC_INPUT, ANTHROPIC_OUTPUT, ANTHROPIC_CACHE_READ, ANTHROPIC_CACHE_WRITE = 12, 9, 100, 20
WORDS = ["Hello", ",", " carbon", " world", "!"]


def _openai_usage() -> dict[str, Any]:
    return {
        "prompt_tokens": PROMPT_TOKENS,
        "completion_tokens": COMPLETION_TOKENS,
        "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS,
        "prompt_tokens_details": {"cached_tokens": CACHED_TOKENS},
        "completion_tokens_details": {"reasoning_tokens": REASONING_TOKENS},
    }


class _Handler(BaseHTTPRequestHandler):
    server: "LLMServer"
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # no 40 ms delayed-ACK stalls on keep-alive connections

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def do_POST(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))) or b"{}")
        self.server.requests.append((self.path, dict(self.headers), body))
        model = str(body.get("model", ""))
        path = self.path.partition("?")[0]  # Azure OpenAI adds ?api-version=…
        if model == "fail-400":
            return self._json({"error": {"message": "bad request", "type": "invalid_request_error"}}, 400)
        if model == "fail-500":
            return self._json({"error": {"message": "boom", "type": "server_error"}}, 500)
        if model == "fail-slow":
            time.sleep(1.5)
        if path.endswith("/chat/completions"):
            return self._chat(body, model)
        if path.endswith("/embeddings"):
            return self._json({"object": "list", "model": model, "data": [{"object": "embedding", "index": 0, "embedding": [0.1, 0.2]}],
                               "usage": {"prompt_tokens": PROMPT_TOKENS, "total_tokens": PROMPT_TOKENS}})
        if path.endswith("/responses"):
            return self._responses(body, model)
        if path.endswith("/messages"):
            return self._messages(body, model)
        self._json({"error": {"message": "not found"}}, 404)

    # --- OpenAI chat ---------------------------------------------------------------
    def _chat(self, body: dict, model: str) -> None:
        base = {"id": "chatcmpl-1", "created": 1, "model": f"{model}-2024-07-18"}
        if not body.get("stream"):
            return self._json({**base, "object": "chat.completion", "usage": _openai_usage(), "choices": [
                {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "".join(WORDS)}}]})
        events = [{**base, "object": "chat.completion.chunk", "choices": [
            {"index": 0, "delta": {"content": w}, "finish_reason": None}]} for w in WORDS]
        events.append({**base, "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
        if (body.get("stream_options") or {}).get("include_usage"):
            events.append({**base, "object": "chat.completion.chunk", "choices": [], "usage": _openai_usage()})
        self._sse([(None, e) for e in events], done=True, garbage=model == "fail-garbage")

    # --- OpenAI Responses -----------------------------------------------------------
    def _responses(self, body: dict, model: str) -> None:
        final = {"id": "resp_1", "object": "response", "created_at": 1, "model": model, "status": "completed",
                 "output": [{"type": "message", "id": "msg_1", "role": "assistant", "status": "completed",
                             "content": [{"type": "output_text", "text": "".join(WORDS), "annotations": []}]}],
                 "usage": {"input_tokens": PROMPT_TOKENS, "output_tokens": COMPLETION_TOKENS,
                           "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS,
                           "input_tokens_details": {"cached_tokens": CACHED_TOKENS},
                           "output_tokens_details": {"reasoning_tokens": REASONING_TOKENS}},
                 "parallel_tool_calls": True, "tool_choice": "auto", "tools": []}
        if not body.get("stream"):
            return self._json(final)
        events = [("response.created", {"type": "response.created", "sequence_number": 0,
                                        "response": {**final, "status": "in_progress", "usage": None, "output": []}})]
        for i, w in enumerate(WORDS):
            events.append(("response.output_text.delta", {"type": "response.output_text.delta", "sequence_number": i + 1,
                                                          "item_id": "msg_1", "output_index": 0, "content_index": 0, "delta": w, "logprobs": []}))
        events.append(("response.completed", {"type": "response.completed", "sequence_number": 99, "response": final}))
        self._sse(events, done=False)

    # --- Anthropic messages ---------------------------------------------------------
    def _messages(self, body: dict, model: str) -> None:
        usage = {"input_tokens": ANTHROPIC_INPUT, "output_tokens": ANTHROPIC_OUTPUT,
                 "cache_read_input_tokens": ANTHROPIC_CACHE_READ, "cache_creation_input_tokens": ANTHROPIC_CACHE_WRITE}
        message = {"id": "msg_1", "type": "message", "role": "assistant", "model": model, "stop_reason": "end_turn",
                   "stop_sequence": None, "content": [{"type": "text", "text": "".join(WORDS)}], "usage": usage}
        if not body.get("stream"):
            return self._json(message)
        start = {**message, "content": [], "stop_reason": None, "usage": {**usage, "output_tokens": 1}}
        events = [("message_start", {"type": "message_start", "message": start}),
                  ("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}})]
        events += [("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": w}}) for w in WORDS]
        events += [("content_block_stop", {"type": "content_block_stop", "index": 0}),
                   ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                                      "usage": {"output_tokens": ANTHROPIC_OUTPUT}}),
                   ("message_stop", {"type": "message_stop"})]
        self._sse(events, done=False, garbage=model == "fail-garbage")

    # --- wire helpers ----------------------------------------------------------------
    def _json(self, payload: dict, status: int = 200) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _sse(self, events: Sequence[tuple[str | None, Any]], done: bool, garbage: bool = False) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("connection", "close")
        self.end_headers()
        for index, (name, payload) in enumerate(events):
            prefix = f"event: {name}\n".encode() if name else b""
            if garbage and index == 2:
                self.wfile.write(prefix + b"data: {not json\n\n")
                break
            self.wfile.write(prefix + b"data: " + json.dumps(payload).encode() + b"\n\n")
            self.wfile.flush()
        else:
            if done:
                self.wfile.write(b"data: [DONE]\n\n")
        self.close_connection = True


_Server = TypeVar("_Server", bound="LoopbackServer")


class LoopbackServer(ThreadingHTTPServer):
    """A threaded HTTP server on a free loopback port, served from a daemon thread; a context manager."""

    daemon_threads = True

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that leaves a stream early closes the socket: not an error here."""

    @property
    def root_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def __enter__(self: _Server) -> _Server:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.shutdown()
        self.server_close()


class LLMServer(LoopbackServer):
    """The OpenAI- and Anthropic-speaking server; ``url`` is its base URL with ``/v1``."""

    def __init__(self) -> None:
        super().__init__(_Handler)
        self.requests: list[tuple[str, dict, dict]] = []

    @property
    def url(self) -> str:
        return f"{self.root_url}/v1"
