"""Amazon Bedrock Runtime's Converse API, as ``botocore`` reads it (rest-json protocol).

* ``POST /model/{modelId}/converse``: one JSON ``ConverseResponse``
  (``output.message``, ``stopReason``, ``usage``, ``metrics``).
* ``POST /model/{modelId}/converse-stream``: an AWS event stream
  (``application/vnd.amazon.eventstream``): binary messages, each a prelude
  (total length, headers length, CRC32 of those 8 bytes), headers
  (``:event-type``, ``:content-type``, ``:message-type`` as string headers),
  a JSON payload and a CRC32 of the whole message.  Events in order:
  ``messageStart``, ``contentBlockDelta`` (one per word), ``contentBlockStop``,
  ``messageStop`` (``stopReason``), ``metadata`` (``usage``, ``metrics``).
  botocore checks both CRCs, so a test that reads these events proves the
  encoding.
* ``POST /model/{modelId}/invoke``: the model's own body (here Anthropic's
  Messages format, as Claude models on Bedrock answer) with the counts in
  ``X-Amzn-Bedrock-Input-Token-Count`` / ``-Output-Token-Count`` /
  ``-Cache-Read-Input-Token-Count`` / ``-Cache-Write-Input-Token-Count``
  headers.
* ``POST /model/{modelId}/invoke-with-response-stream``: an event stream of
  ``chunk`` events, each ``{"bytes": base64(model event JSON)}``; the last
  model event carries ``amazon-bedrock-invocationMetrics`` with the counts.
* Errors: the HTTP status, an ``x-amzn-ErrorType`` header and
  ``{"message": ...}``; inside a stream, an exception message
  (``:message-type: exception``, ``:exception-type``).

Counts follow Bedrock's ``TokenUsage``: ``inputTokens`` excludes the tokens
read from or written to the prompt cache, reported apart.  Failures by model
id: ``fail-400`` / ``fail-500`` answer ``ValidationException`` /
``InternalServerException``; ``fail-garbage`` sends a body that is not JSON,
or a stream message with a broken CRC after the first event;
``fail-stream-error`` sends a ``modelStreamErrorException`` after the first
delta.
"""

from __future__ import annotations

import base64
import json
import struct
from binascii import crc32
from typing import Any
from urllib.parse import unquote

from wire_server import Call, Reply, Route, json_reply

#: The generated text, one ``contentBlockDelta`` per word.
WORDS = ("Le", " ciel", " est", " bleu", ".")
INPUT_TOKENS = 31  # fresh (uncached) input
OUTPUT_TOKENS = 17
CACHE_READ_TOKENS = 200
CACHE_WRITE_TOKENS = 40
STOP_REASON = "end_turn"
LATENCY_MS = 412
REQUEST_ID = "3a1f0c2e-7b4d-4e2a-9c51-0f6d8e2b7a10"

_STRING = 7  # header value type: UTF-8 string with a 2-byte length


def _header(name: str, value: str) -> bytes:
    raw_name, raw_value = name.encode(), value.encode()
    return struct.pack("!B", len(raw_name)) + raw_name + struct.pack("!BH", _STRING, len(raw_value)) + raw_value


def event_message(headers: dict[str, str], payload: bytes) -> bytes:
    """One event-stream message: prelude + prelude CRC, headers, payload, message CRC (all big-endian)."""
    encoded = b"".join(_header(name, value) for name, value in headers.items())
    prelude = struct.pack("!II", 12 + len(encoded) + len(payload) + 4, len(encoded))
    head = prelude + struct.pack("!I", crc32(prelude) & 0xFFFFFFFF)
    body = head + encoded + payload
    return body + struct.pack("!I", crc32(body) & 0xFFFFFFFF)


def event(event_type: str, payload: dict[str, Any]) -> bytes:
    """A ``:message-type: event`` message with a JSON payload."""
    headers = {":event-type": event_type, ":content-type": "application/json", ":message-type": "event"}
    return event_message(headers, json.dumps(payload).encode())


def exception(exception_type: str, message: str) -> bytes:
    """A ``:message-type: exception`` message (a modelled error inside the stream)."""
    headers = {":exception-type": exception_type, ":content-type": "application/json", ":message-type": "exception"}
    return event_message(headers, json.dumps({"message": message}).encode())


def usage() -> dict[str, int]:
    return {
        "inputTokens": INPUT_TOKENS,
        "outputTokens": OUTPUT_TOKENS,
        "totalTokens": INPUT_TOKENS + OUTPUT_TOKENS + CACHE_READ_TOKENS + CACHE_WRITE_TOKENS,
        "cacheReadInputTokens": CACHE_READ_TOKENS,
        "cacheWriteInputTokens": CACHE_WRITE_TOKENS,
    }


def _error(model: str) -> Reply | None:
    for failing, status, code, message in (
        ("fail-400", 400, "ValidationException", "The provided model identifier is invalid."),
        ("fail-500", 500, "InternalServerException", "The server encountered an internal error."),
    ):
        if model == failing:
            reply = json_reply({"message": message}, status)
            reply.headers.update({"x-amzn-ErrorType": f"{code}:http://internal.amazon.com/coral/com.amazon.bedrock/",
                                  "x-amzn-RequestId": REQUEST_ID})
            return reply
    return None


def converse(call: Call) -> Reply:
    model = unquote(call.params["model"])
    failed = _error(model)
    if failed is not None:
        return failed
    if model == "fail-garbage":
        return Reply(body=b'{"output": {"message": {"role": "assis')
    reply = json_reply({
        "output": {"message": {"role": "assistant", "content": [{"text": "".join(WORDS)}]}},
        "stopReason": STOP_REASON,
        "usage": usage(),
        "metrics": {"latencyMs": LATENCY_MS},
    })
    reply.headers["x-amzn-RequestId"] = REQUEST_ID
    return reply


def converse_stream(call: Call) -> Reply:
    model = unquote(call.params["model"])
    failed = _error(model)
    if failed is not None:
        return failed
    messages = [event("messageStart", {"role": "assistant"})]
    messages += [event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": word}}) for word in WORDS]
    messages += [
        event("contentBlockStop", {"contentBlockIndex": 0}),
        event("messageStop", {"stopReason": STOP_REASON}),
        event("metadata", {"usage": usage(), "metrics": {"latencyMs": LATENCY_MS}}),
    ]
    if model == "fail-garbage":
        broken = bytearray(messages[1])
        broken[-1] ^= 0xFF  # the message CRC no longer matches
        messages[1:] = [bytes(broken)]
    elif model == "fail-stream-error":
        messages[2:] = [exception("modelStreamErrorException", "The model stopped while streaming.")]
    return Reply(content_type="application/vnd.amazon.eventstream", chunks=messages,
                 headers={"x-amzn-RequestId": REQUEST_ID})


def _claude_message() -> dict[str, Any]:
    return {"id": "msg_bdrk_01", "type": "message", "role": "assistant", "model": "claude-3-haiku-20240307",
            "content": [{"type": "text", "text": "".join(WORDS)}], "stop_reason": STOP_REASON, "stop_sequence": None,
            "usage": {"input_tokens": INPUT_TOKENS, "output_tokens": OUTPUT_TOKENS,
                      "cache_read_input_tokens": CACHE_READ_TOKENS, "cache_creation_input_tokens": CACHE_WRITE_TOKENS}}


def invoke(call: Call) -> Reply:
    model = unquote(call.params["model"])
    failed = _error(model)
    if failed is not None:
        return failed
    reply = json_reply(_claude_message())
    reply.headers.update({
        "x-amzn-RequestId": REQUEST_ID,
        "X-Amzn-Bedrock-Invocation-Latency": str(LATENCY_MS),
        "X-Amzn-Bedrock-Input-Token-Count": str(INPUT_TOKENS),
        "X-Amzn-Bedrock-Output-Token-Count": str(OUTPUT_TOKENS),
        "X-Amzn-Bedrock-Cache-Read-Input-Token-Count": str(CACHE_READ_TOKENS),
        "X-Amzn-Bedrock-Cache-Write-Input-Token-Count": str(CACHE_WRITE_TOKENS),
    })
    return reply


def _chunk(model_event: dict[str, Any]) -> bytes:
    return event("chunk", {"bytes": base64.b64encode(json.dumps(model_event).encode()).decode()})


def invoke_stream(call: Call) -> Reply:
    model = unquote(call.params["model"])
    failed = _error(model)
    if failed is not None:
        return failed
    start = {**_claude_message(), "content": [], "stop_reason": None}
    model_events: list[dict[str, Any]] = [{"type": "message_start", "message": start}]
    model_events += [{"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": w}} for w in WORDS]
    model_events += [
        {"type": "message_delta", "delta": {"stop_reason": STOP_REASON}, "usage": {"output_tokens": OUTPUT_TOKENS}},
        {"type": "message_stop", "amazon-bedrock-invocationMetrics": {
            "inputTokenCount": INPUT_TOKENS, "outputTokenCount": OUTPUT_TOKENS, "invocationLatency": LATENCY_MS,
            "firstByteLatency": 90, "cacheReadInputTokenCount": CACHE_READ_TOKENS,
            "cacheWriteInputTokenCount": CACHE_WRITE_TOKENS}},
    ]
    messages = [_chunk(model_event) for model_event in model_events]
    if model == "fail-stream-error":
        messages[2:] = [exception("modelStreamErrorException", "The model stopped while streaming.")]
    return Reply(content_type="application/vnd.amazon.eventstream", chunks=messages,
                 headers={"x-amzn-RequestId": REQUEST_ID, "X-Amzn-Bedrock-Content-Type": "application/json"})


def routes() -> list[Route]:
    return [
        ("POST", r"/model/(?P<model>[^/]+)/converse", converse),
        ("POST", r"/model/(?P<model>[^/]+)/converse-stream", converse_stream),
        ("POST", r"/model/(?P<model>[^/]+)/invoke", invoke),
        ("POST", r"/model/(?P<model>[^/]+)/invoke-with-response-stream", invoke_stream),
    ]
