"""The real ``mistralai`` SDK against a loopback server speaking Mistral's wire format."""

from __future__ import annotations

import asyncio
import gc
import json

import pytest
from instrumented import instrumented
from mistralai.client import Mistral, errors
from opentelemetry.trace import StatusCode
from wire.mistral import CACHED_TOKENS, COMPLETION_TOKENS, PROMPT_TOKENS, WORDS, routes
from wire_server import WireServer, word_tokens

from otel_carbon import semconv as sc
from otel_carbon.instrumentations.mistralai import MistralAIInstrumentor
from otel_carbon.instrumentations.mistralai.extract import request

API_KEY = "mistral-test-secret-never-in-spans"
MODEL = "mistral-small-latest"
MESSAGES = [{"role": "user", "content": "Bonjour ?"}]


@pytest.fixture(scope="module")
def server():
    with WireServer(routes()) as server:
        yield server


@pytest.fixture
def spans():
    with instrumented(MistralAIInstrumentor()) as exporter:
        yield exporter


@pytest.fixture
def client(server):
    return Mistral(api_key=API_KEY, server_url=server.url, timeout_ms=2000)


def only(exporter):
    (span,) = exporter.get_finished_spans()
    return span


def assert_usage(attrs):
    assert attrs[sc.GEN_AI_USAGE_INPUT_TOKENS] == PROMPT_TOKENS  # Mistral counts the cached prefix inside
    assert attrs[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == COMPLETION_TOKENS
    assert attrs[sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == CACHED_TOKENS


def assert_no_secret(span):
    assert API_KEY not in repr(dict(span.attributes)) + repr(span.events) + span.name


def test_chat_complete(client, server, spans):
    result = client.chat.complete(model=MODEL, messages=MESSAGES, max_tokens=64, temperature=0.3)
    assert result.choices[0].message.content == "".join(WORDS)
    assert server.calls[-1].headers["Authorization"] == f"Bearer {API_KEY}"  # the key did go to the server
    span = only(spans)
    attrs = span.attributes
    assert span.name == f"chat {MODEL}"
    assert attrs[sc.GEN_AI_OPERATION_NAME] == "chat"
    assert attrs[sc.GEN_AI_PROVIDER_NAME] == "mistral_ai"
    assert attrs[sc.GEN_AI_RESPONSE_MODEL] == MODEL
    assert attrs[sc.GEN_AI_RESPONSE_ID] == f"cmpl-{MODEL}"
    assert attrs[sc.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)
    assert attrs[sc.GEN_AI_REQUEST_MAX_TOKENS] == 64
    assert attrs[sc.GEN_AI_REQUEST_TEMPERATURE] == 0.3
    assert (attrs[sc.SERVER_ADDRESS], attrs[sc.SERVER_PORT]) == ("127.0.0.1", server.server_address[1])
    assert sc.GEN_AI_REQUEST_STREAM not in attrs
    assert_usage(attrs)
    assert attrs[sc.SCI_CARBON] > 0  # enriched by the processor
    assert sc.GEN_AI_INPUT_MESSAGES not in attrs  # content is opt-in
    assert_no_secret(span)


def test_content_is_recorded_only_when_opted_in(client, spans, monkeypatch):
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "true")
    client.chat.complete(model=MODEL, messages=MESSAGES)
    attrs = only(spans).attributes
    assert json.loads(attrs[sc.GEN_AI_INPUT_MESSAGES]) == MESSAGES
    assert json.loads(attrs[sc.GEN_AI_OUTPUT_MESSAGES]) == ["".join(WORDS)]


def test_structured_parse_is_one_span(client, spans):
    """``chat.parse`` calls the wrapped ``complete``: one span, not two."""
    from pydantic import BaseModel

    class Greeting(BaseModel):
        text: str

    parsed = client.chat.parse(response_format=Greeting, model=MODEL, messages=MESSAGES)
    assert parsed.choices[0].message.parsed == Greeting(text="".join(WORDS))
    assert_usage(only(spans).attributes)


def test_stream_drained(client, spans):
    events = list(client.chat.stream(model=MODEL, messages=MESSAGES))
    assert "".join(e.data.choices[0].delta.content for e in events) == "".join(WORDS)
    span = only(spans)
    attrs = span.attributes
    assert attrs[sc.GEN_AI_REQUEST_STREAM] is True
    assert attrs[sc.GEN_AI_RESPONSE_ID] == f"cmpl-stream-{MODEL}"
    assert attrs[sc.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)
    assert_usage(attrs)
    assert attrs[sc.SCI_CARBON] > 0


@pytest.mark.parametrize("how", ["break-close", "context-manager", "garbage-collected"])
def test_stream_left_early_ends_the_span_once(client, spans, how):
    if how == "break-close":
        stream = client.chat.stream(model=MODEL, messages=MESSAGES)
        for _ in stream:
            break
        stream.close()
        stream.close()
    elif how == "context-manager":
        with client.chat.stream(model=MODEL, messages=MESSAGES) as stream:
            next(iter(stream))
    else:
        stream = client.chat.stream(model=MODEL, messages=MESSAGES)
        next(stream)
        del stream
        gc.collect()
    span = only(spans)
    assert span.end_time is not None
    assert span.status.status_code is not StatusCode.ERROR
    # usage comes only with the last chunk: the counts are estimated from the text read so far, and say so
    assert span.attributes[sc.SCI_USAGE_ESTIMATED] is True and span.attributes[sc.SCI_COUNTED] is True


def test_malformed_stream_fails_the_span_and_reraises(client, spans):
    stream = client.chat.stream(model="fail-garbage", messages=MESSAGES)
    first = next(stream)
    assert first.data.choices[0].delta.content == WORDS[0]
    with pytest.raises(errors.ResponseValidationError):
        next(stream)
    span = only(spans)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[sc.ERROR_TYPE] == "ResponseValidationError"


@pytest.mark.parametrize("model, error, error_type", [
    ("fail-400", errors.SDKError, "SDKError"),
    ("fail-500", errors.SDKError, "SDKError"),
    ("fail-garbage", errors.ResponseValidationError, "ResponseValidationError"),
])
def test_errors_are_recorded_and_reraised(client, spans, model, error, error_type):
    with pytest.raises(error):
        client.chat.complete(model=model, messages=MESSAGES)
    span = only(spans)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[sc.ERROR_TYPE] == error_type
    assert_no_secret(span)


def test_stream_error_status(client, spans):
    with pytest.raises(errors.SDKError) as raised:
        client.chat.stream(model="fail-500", messages=MESSAGES)
    assert raised.value.status_code == 500
    assert only(spans).attributes[sc.ERROR_TYPE] == "SDKError"


def test_embeddings(client, spans):
    inputs = ["Le ciel est bleu", "La mer est calme ce soir"]
    result = client.embeddings.create(model="mistral-embed", inputs=inputs)
    assert len(result.data) == 2
    attrs = only(spans).attributes
    assert attrs[sc.GEN_AI_OPERATION_NAME] == "embeddings"
    assert attrs[sc.GEN_AI_REQUEST_MODEL] == "mistral-embed"
    assert attrs[sc.GEN_AI_USAGE_INPUT_TOKENS] == word_tokens(inputs) == 10
    assert attrs[sc.SCI_CARBON] > 0


def test_fim_complete_and_stream(client, spans):
    client.fim.complete(model="codestral-latest", prompt="def add(a, b):", suffix="return c")
    list(client.fim.stream(model="codestral-latest", prompt="def add(a, b):"))
    plain, streamed = spans.get_finished_spans()
    for span in (plain, streamed):
        assert span.name == "text_completion codestral-latest"
        assert_usage(span.attributes)
    assert streamed.attributes[sc.GEN_AI_REQUEST_STREAM] is True


def test_async_complete_stream_and_embeddings(client, spans):
    async def main():
        await client.chat.complete_async(model=MODEL, messages=MESSAGES)
        stream = await client.chat.stream_async(model=MODEL, messages=MESSAGES)
        async for _ in stream:
            pass
        early = await client.chat.stream_async(model=MODEL, messages=MESSAGES)
        async for _ in early:
            break
        await early.close()
        await client.embeddings.create_async(model="mistral-embed", inputs="un deux trois")
        with pytest.raises(errors.SDKError):
            await client.chat.complete_async(model="fail-400", messages=MESSAGES)

    asyncio.run(main())
    plain, streamed, left, embedded, failed = spans.get_finished_spans()
    assert_usage(plain.attributes)
    assert_usage(streamed.attributes)
    assert streamed.attributes[sc.GEN_AI_REQUEST_STREAM] is True
    assert left.end_time is not None and left.status.status_code is not StatusCode.ERROR
    assert embedded.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == 3
    assert failed.status.status_code is StatusCode.ERROR


def test_endpoint_of_the_named_server_and_of_a_per_call_url():
    hosted = Mistral(api_key=API_KEY)  # no call is made: only the request facts are read
    facts = request("chat", False, hosted.chat, (), {"model": MODEL, "stream": True})
    assert (facts.provider, facts.server_address, facts.server_port, facts.local) == ("mistral_ai", "api.mistral.ai", 443, False)
    assert facts.stream is False  # complete() never streams, whatever its kwargs say
    eu = request("chat", True, hosted.chat, (), {"model": MODEL, "server_url": "https://api.eu.mistral.ai"})
    assert (eu.server_address, eu.stream) == ("api.eu.mistral.ai", True)
    local = request("embeddings", False, Mistral(server_url="http://localhost:8000").embeddings, (), {"model": "e5"})
    assert (local.provider, local.local) == ("vllm", True)  # a loopback server is local inference


def test_uninstrument_restores_the_originals():
    from mistralai.client.chat import Chat
    from mistralai.client.embeddings import Embeddings

    names = ("complete", "complete_async", "stream", "stream_async")
    originals = [Chat.__dict__[n] for n in names] + [Embeddings.__dict__["create"]]
    instrumentor = MistralAIInstrumentor()
    instrumentor.instrument()
    assert all(Chat.__dict__[n] is not o for n, o in zip(names, originals))
    instrumentor.uninstrument()
    assert [Chat.__dict__[n] for n in names] + [Embeddings.__dict__["create"]] == originals


def test_mistral_sdk_telemetry_beside_ours_counts_once(server):
    """The SDK's own telemetry opens a GenAI span inside ours; the call is counted once, by ours."""
    from mistralai.extra.observability import configure_telemetry
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from otel_carbon.config import CarbonSettings
    from otel_carbon.processors import CarbonSpanProcessor

    exporter, provider = InMemorySpanExporter(), TracerProvider()
    provider.add_span_processor(CarbonSpanProcessor(SimpleSpanProcessor(exporter), settings=CarbonSettings(zone="FR")))
    instrumentor = MistralAIInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        sdk_client = Mistral(api_key="sk-mistral", server_url=server.url)
        configure_telemetry(sdk_client, provider=provider)
        sdk_client.chat.complete(model=MODEL, messages=MESSAGES)
    finally:
        instrumentor.uninstrument()
    spans = exporter.get_finished_spans()
    genai = [s for s in spans if sc.GENAI_MARKER_KEYS & set(s.attributes)]
    assert {s.instrumentation_scope.name for s in genai} >= {"otel_carbon.instrumentations.mistralai"}
    assert len(genai) == 2, [(s.name, s.instrumentation_scope.name) for s in spans]  # the SDK's span is there
    counted = [s for s in genai if s.attributes.get(sc.SCI_COUNTED) is True]
    assert [s.instrumentation_scope.name for s in counted] == ["otel_carbon.instrumentations.mistralai"]
    (other,) = [s for s in genai if s not in counted]
    assert other.attributes[sc.SCI_CARBON_STATUS] == sc.STATUS_DUPLICATE and sc.SCI_CARBON not in other.attributes
