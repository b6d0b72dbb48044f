"""The real ``cohere`` SDK's v2 clients against a loopback server speaking Cohere's v2 wire format."""

from __future__ import annotations

import asyncio
import gc
import json

import cohere
import pytest
from instrumented import instrumented
from opentelemetry.trace import StatusCode
from wire.cohere import (
    BILLED_INPUT_TOKENS,
    CACHED_TOKENS,
    CHAT_ID,
    EMBED_ID,
    INPUT_TOKENS,
    OUTPUT_TOKENS,
    WORDS,
    routes,
)
from wire_server import WireServer, word_tokens

from otel_carbon import semconv as sc
from otel_carbon.instrumentations._shared.fields import count
from otel_carbon.instrumentations.cohere import CohereInstrumentor
from otel_carbon.instrumentations.cohere.extract import request

API_KEY = "cohere-test-secret-never-in-spans"
MODEL = "command-a-03-2025"
MESSAGES = [{"role": "user", "content": "¿Hola?"}]


@pytest.fixture(scope="module")
def server():
    with WireServer(routes()) as server:
        yield server


@pytest.fixture
def spans():
    with instrumented(CohereInstrumentor()) as exporter:
        yield exporter


@pytest.fixture
def client(server, spans):  # after instrumenting: the client binds chat/chat_stream at construction
    return cohere.ClientV2(api_key=API_KEY, base_url=server.url, max_retries=0, timeout=2)


def only(exporter):
    (span,) = exporter.get_finished_spans()
    return span


def assert_usage(attrs):
    assert attrs[sc.GEN_AI_USAGE_INPUT_TOKENS] == INPUT_TOKENS  # processed, not billed
    assert attrs[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == OUTPUT_TOKENS
    assert attrs[sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == CACHED_TOKENS


def assert_no_secret(span):
    assert API_KEY not in repr(dict(span.attributes)) + repr(span.events) + span.name


def test_chat(client, server, spans):
    result = client.chat(model=MODEL, messages=MESSAGES, max_tokens=128, temperature=0.3, p=0.8)
    assert result.message.content[0].text == "".join(WORDS)
    assert server.calls[-1].headers["Authorization"] == f"Bearer {API_KEY}"  # the key did go to the server
    span = only(spans)
    attrs = span.attributes
    assert span.name == f"chat {MODEL}"
    assert attrs[sc.GEN_AI_OPERATION_NAME] == "chat"
    assert attrs[sc.GEN_AI_PROVIDER_NAME] == "cohere"
    assert attrs[sc.GEN_AI_REQUEST_MODEL] == MODEL
    assert sc.GEN_AI_RESPONSE_MODEL not in attrs  # Cohere's responses name no model
    assert attrs[sc.GEN_AI_RESPONSE_ID] == CHAT_ID
    assert attrs[sc.GEN_AI_RESPONSE_FINISH_REASONS] == ("complete",)
    assert (attrs[sc.GEN_AI_REQUEST_MAX_TOKENS], attrs[sc.GEN_AI_REQUEST_TEMPERATURE]) == (128, 0.3)
    assert attrs[sc.GEN_AI_REQUEST_TOP_P] == 0.8
    assert (attrs[sc.SERVER_ADDRESS], attrs[sc.SERVER_PORT]) == ("127.0.0.1", server.server_address[1])
    assert sc.GEN_AI_REQUEST_STREAM not in attrs
    assert_usage(attrs)
    assert attrs[sc.SCI_CARBON] > 0  # enriched by the processor
    assert sc.GEN_AI_INPUT_MESSAGES not in attrs  # content is opt-in
    assert_no_secret(span)


def test_content_is_recorded_only_when_opted_in(client, spans, monkeypatch):
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "true")
    client.chat(model=MODEL, messages=MESSAGES)
    list(client.chat_stream(model=MODEL, messages=MESSAGES))
    for span in spans.get_finished_spans():
        assert json.loads(span.attributes[sc.GEN_AI_INPUT_MESSAGES]) == MESSAGES
        assert json.loads(span.attributes[sc.GEN_AI_OUTPUT_MESSAGES]) == ["".join(WORDS)]
    assert len(spans.get_finished_spans()) == 2


def test_v1_client_v2_namespace_is_covered(server, spans):
    client = cohere.Client(api_key=API_KEY, base_url=server.url, max_retries=0, timeout=2)
    client.v2.chat(model=MODEL, messages=MESSAGES)
    assert_usage(only(spans).attributes)


def test_embed(client, spans):
    texts = ["una frase de cinco palabras", "y tres más"]
    result = client.embed(model="embed-v4.0", texts=texts, input_type="search_document", embedding_types=["float"])
    assert len(result.embeddings.float_) == 2
    span = only(spans)
    attrs = span.attributes
    assert span.name == "embeddings embed-v4.0"
    assert attrs[sc.GEN_AI_OPERATION_NAME] == "embeddings"
    assert attrs[sc.GEN_AI_RESPONSE_ID] == EMBED_ID
    assert attrs[sc.GEN_AI_USAGE_INPUT_TOKENS] == word_tokens(texts) == 8  # billed units: all Cohere reports
    assert sc.GEN_AI_USAGE_OUTPUT_TOKENS not in attrs
    assert attrs[sc.SCI_CARBON] > 0


def test_stream_drained(client, spans):
    events = list(client.chat_stream(model=MODEL, messages=MESSAGES))
    assert [e.type for e in events][:2] == ["message-start", "content-start"]
    assert "".join(e.delta.message.content.text for e in events if e.type == "content-delta") == "".join(WORDS)
    span = only(spans)
    attrs = span.attributes
    assert attrs[sc.GEN_AI_REQUEST_STREAM] is True
    assert attrs[sc.GEN_AI_RESPONSE_ID] == CHAT_ID
    assert attrs[sc.GEN_AI_RESPONSE_FINISH_REASONS] == ("complete",)
    assert_usage(attrs)
    assert attrs[sc.SCI_CARBON] > 0


@pytest.mark.parametrize("how", ["break-close", "garbage-collected"])
def test_stream_left_early_ends_the_span_once(client, spans, how):
    stream = client.chat_stream(model=MODEL, messages=MESSAGES)
    assert next(stream).type == "message-start"
    if how == "break-close":
        stream.close()
        stream.close()
    else:
        del stream
        gc.collect()
    span = only(spans)
    assert span.end_time is not None
    assert span.status.status_code is not StatusCode.ERROR
    assert span.attributes[sc.GEN_AI_RESPONSE_ID] == CHAT_ID
    assert sc.GEN_AI_USAGE_OUTPUT_TOKENS not in span.attributes  # usage comes only with message-end


def test_malformed_stream_ends_the_span_without_usage(client, spans):
    """The SDK does not raise on an event that is not JSON: it logs a warning and yields a hollow
    event built from the SSE fields; the stream then ends, cut short."""
    events = list(client.chat_stream(model="fail-garbage", messages=MESSAGES))
    assert len(events) == 2 and events[0].id == CHAT_ID and not events[1].id
    span = only(spans)
    assert span.end_time is not None
    assert span.attributes[sc.GEN_AI_RESPONSE_ID] == CHAT_ID
    assert sc.GEN_AI_USAGE_INPUT_TOKENS not in span.attributes
    assert sc.GEN_AI_RESPONSE_FINISH_REASONS not in span.attributes


@pytest.mark.parametrize("model, error", [
    ("fail-400", cohere.BadRequestError),
    ("fail-500", cohere.InternalServerError),
    ("fail-garbage", cohere.core.ApiError),
])
def test_errors_are_recorded_and_reraised(client, spans, model, error):
    with pytest.raises(error):
        client.chat(model=model, messages=MESSAGES)
    with pytest.raises(error):
        client.embed(model=model, texts=["x"], input_type="search_query", embedding_types=["float"])
    failed = spans.get_finished_spans()
    assert [span.attributes[sc.GEN_AI_OPERATION_NAME] for span in failed] == ["chat", "embeddings"]
    for span in failed:
        assert span.status.status_code is StatusCode.ERROR
        assert span.attributes[sc.ERROR_TYPE] == error.__name__
        assert sc.GEN_AI_USAGE_INPUT_TOKENS not in span.attributes
        assert_no_secret(span)


@pytest.mark.parametrize("model, error", [("fail-400", cohere.BadRequestError),
                                          ("fail-500", cohere.InternalServerError)])
def test_stream_error_status_fails_when_first_read(client, spans, model, error):
    stream = client.chat_stream(model=model, messages=MESSAGES)
    with pytest.raises(error):
        next(stream)
    span = only(spans)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[sc.ERROR_TYPE] == error.__name__


def test_async(server, spans):
    async def main():
        client = cohere.AsyncClientV2(api_key=API_KEY, base_url=server.url, max_retries=0, timeout=2)
        await client.chat(model=MODEL, messages=MESSAGES)
        drained = [e async for e in client.chat_stream(model=MODEL, messages=MESSAGES)]
        stream = client.chat_stream(model=MODEL, messages=MESSAGES)
        async for _ in stream:
            break
        await stream.aclose()
        await client.embed(model="embed-v4.0", texts=["dos palabras"], input_type="search_query",
                           embedding_types=["float"])
        with pytest.raises(cohere.InternalServerError):
            await client.chat(model="fail-500", messages=MESSAGES)
        return drained

    assert asyncio.run(main())[-1].type == "message-end"
    plain, streamed, left, embedded, failed = spans.get_finished_spans()
    assert_usage(plain.attributes)
    assert_usage(streamed.attributes)
    assert streamed.attributes[sc.GEN_AI_REQUEST_STREAM] is True
    assert left.end_time is not None and left.status.status_code is not StatusCode.ERROR
    assert sc.GEN_AI_USAGE_OUTPUT_TOKENS not in left.attributes
    assert embedded.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == 2
    assert failed.attributes[sc.ERROR_TYPE] == "InternalServerError"


def test_bedrock_client_is_recorded_as_bedrock():
    pytest.importorskip("boto3")
    client = cohere.BedrockClientV2(aws_access_key="AKIDEXAMPLE", aws_secret_key="not-a-secret",
                                    aws_region="eu-west-1")
    start = request("chat", False, client, (), {"model": "cohere.command-r-plus-v1:0"})
    assert start.provider == "aws.bedrock"
    assert start.server_address is None  # the client's base_url is a placeholder the SDK rewrites


def test_token_counts_arrive_as_json_numbers():
    assert [count(v) for v in (5, 5.0, 0.0, 2.5, -1.0, True, None, "5")] == [5, 5, 0, None, None, None, None, None]
    assert BILLED_INPUT_TOKENS < INPUT_TOKENS  # the wire's billed input excludes the template


def test_uninstrument_restores_the_originals():
    from cohere.v2.client import AsyncV2Client, V2Client

    names = [(cls, name) for cls in (V2Client, AsyncV2Client) for name in ("chat", "chat_stream", "embed")]
    originals = [cls.__dict__[name] for cls, name in names]
    instrumentor = CohereInstrumentor()
    instrumentor.instrument()
    assert all(cls.__dict__[name] is not original for (cls, name), original in zip(names, originals, strict=True))
    instrumentor.uninstrument()
    assert [cls.__dict__[name] for cls, name in names] == originals

