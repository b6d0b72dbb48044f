"""OpenAI ``/v1/chat/completions`` with token counts that follow the request, for the carbon-gate tests.

Usage is computed from what the client sent, the way the real API bills it:

* input tokens: one per 4 characters of the messages;
* prompt caching: a leading system message of at least 1 024 tokens that this
  server has seen before is read from cache, in 128-token blocks (OpenAI's rule);
  anything that varies per request in front of it defeats the cache;
* output tokens: ``max_tokens`` / ``max_completion_tokens`` when given, capped
  at ``UNCAPPED_OUTPUT_TOKENS`` (the answer's natural length) otherwise.
"""

from __future__ import annotations

from wire_server import Call, Reply, Route, json_reply

UNCAPPED_OUTPUT_TOKENS = 700
_CACHE_MIN, _CACHE_BLOCK = 1024, 128


class PromptCachingChat:
    """The chat route and its prefix cache (one per server: a fresh server starts cold)."""

    def __init__(self) -> None:
        self._seen: set[str] = set()

    @property
    def routes(self) -> list[Route]:
        return [("POST", r"/v1/chat/completions", self.chat)]

    def chat(self, call: Call) -> Reply:
        body = call.body
        messages = body.get("messages", [])
        prompt = sum(len(str(m.get("content", ""))) for m in messages) // 4
        cached = 0
        if messages and messages[0].get("role") == "system":
            system = str(messages[0].get("content", ""))
            system_tokens = len(system) // 4
            if system in self._seen and system_tokens >= _CACHE_MIN:
                cached = system_tokens // _CACHE_BLOCK * _CACHE_BLOCK
            self._seen.add(system)
        cap = body.get("max_completion_tokens") or body.get("max_tokens")
        output = min(int(cap), UNCAPPED_OUTPUT_TOKENS) if cap else UNCAPPED_OUTPUT_TOKENS
        return json_reply({
            "id": "chatcmpl-gate", "object": "chat.completion", "created": 1,
            "model": f"{body.get('model')}-2024-07-18",
            "choices": [{"index": 0, "finish_reason": "stop" if not cap else "length",
                         "message": {"role": "assistant", "content": "word " * output}}],
            "usage": {"prompt_tokens": prompt, "completion_tokens": output, "total_tokens": prompt + output,
                      "prompt_tokens_details": {"cached_tokens": cached}},
        })
