"""The real ``openai`` SDK against a loopback server, under our instrumentation."""

from __future__ import annotations

import asyncio
import gc

import openai
import pytest
from instrumented import instrumented
from opentelemetry.trace import StatusCode

from otel_carbon import semconv as sc
from otel_carbon.cli.demo_server import CACHED_TOKENS, COMPLETION_TOKENS, PROMPT_TOKENS, REASONING_TOKENS, WORDS
from otel_carbon.instrumentations.openai import OpenAIInstrumentor

API_KEY = "sk-test-secret-never-in-spans"


@pytest.fixture
def server(llm_server):
    return llm_server


@pytest.fixture
def spans():
    with instrumented(OpenAIInstrumentor()) as exporter:
        yield exporter


@pytest.fixture
def client(server):
    return openai.OpenAI(base_url=server.url, api_key=API_KEY, max_retries=0, timeout=1.0)


@pytest.fixture
def aclient(server):
    return openai.AsyncOpenAI(base_url=server.url, api_key=API_KEY, max_retries=0, timeout=1.0)


def only(exporter):
    (span,) = exporter.get_finished_spans()
    return span


def assert_usage(attrs, cached=True, reasoning=True):
    assert attrs[sc.GEN_AI_USAGE_INPUT_TOKENS] == PROMPT_TOKENS
    assert attrs[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == COMPLETION_TOKENS
    if cached:
        assert attrs[sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == CACHED_TOKENS
    if reasoning:
        assert attrs[sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] == REASONING_TOKENS


def assert_no_secret(span):
    assert API_KEY not in repr(dict(span.attributes)) + repr(span.events) + span.name


def test_chat_completion(client, spans):
    result = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], max_tokens=50)
    assert result.choices[0].message.content == "".join(WORDS)
    span = only(spans)
    attrs = span.attributes
    assert span.name == "chat gpt-4o-mini"
    assert attrs[sc.GEN_AI_OPERATION_NAME] == "chat"
    assert attrs[sc.GEN_AI_REQUEST_MODEL] == "gpt-4o-mini"
    assert attrs[sc.GEN_AI_RESPONSE_MODEL] == "gpt-4o-mini-2024-07-18"
    assert attrs[sc.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)
    assert attrs[sc.GEN_AI_REQUEST_MAX_TOKENS] == 50
    assert attrs[sc.SERVER_ADDRESS] == "127.0.0.1"
    assert_usage(attrs)
    assert attrs[sc.SCI_CARBON] > 0  # enriched by the processor
    assert sc.GEN_AI_INPUT_MESSAGES not in attrs  # content is opt-in
    assert_no_secret(span)


def test_span_scope_names_the_instrumentation_and_its_semconv_schema(client, spans):
    client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    scope = only(spans).instrumentation_scope
    assert scope.name == "otel_carbon.instrumentations.openai"
    assert scope.schema_url == sc.SCHEMA_URL == "https://opentelemetry.io/schemas/1.41.0"


def test_raw_response_is_read_and_parsed_once(client, spans):
    raw = client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=[])
    completion = raw.parse()
    assert completion is raw.parse()  # the SDK's cache: our read and the caller's are one parse
    assert completion.choices[0].message.content == "".join(WORDS)
    attrs = only(spans).attributes
    assert_usage(attrs)
    assert attrs[sc.GEN_AI_RESPONSE_MODEL] == "gpt-4o-mini-2024-07-18"


def test_content_is_recorded_only_when_opted_in(client, spans, monkeypatch):
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "true")
    client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi there"}])
    attrs = only(spans).attributes
    assert "hi there" in attrs[sc.GEN_AI_INPUT_MESSAGES]
    assert "carbon world" in attrs[sc.GEN_AI_OUTPUT_MESSAGES]


def test_stream_drained_with_usage(client, spans):
    stream = client.chat.completions.create(model="gpt-4o-mini", messages=[], stream=True,
                                            stream_options={"include_usage": True})
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text == "".join(WORDS)
    attrs = only(spans).attributes
    assert attrs[sc.GEN_AI_REQUEST_STREAM] is True
    assert attrs[sc.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)
    assert_usage(attrs)


def test_stream_usage_injection_is_opt_in(server):
    with instrumented(OpenAIInstrumentor(), include_usage=True) as exporter:
        client = openai.OpenAI(base_url=server.url, api_key=API_KEY, max_retries=0)
        list(client.chat.completions.create(model="gpt-4o-mini", messages=[], stream=True))
    assert_usage(only(exporter).attributes)
    assert server.requests[-1][2]["stream_options"] == {"include_usage": True}


def test_stream_without_usage_is_estimated_from_the_text_and_flagged(client, spans):
    prompt = "Summarise the quarterly report in three bullet points, please."
    chunks = list(client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": prompt}], stream=True))
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    attrs = only(spans).attributes
    assert attrs[sc.SCI_USAGE_ESTIMATED] is True and attrs[sc.SCI_USAGE_METHOD] == "chars/4"
    assert attrs[sc.GEN_AI_USAGE_INPUT_TOKENS] == -(-len(prompt) // 4)
    assert attrs[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == -(-len(streamed) // 4) > 0
    assert attrs[sc.SCI_COUNTED] is True and attrs[sc.SCI_CARBON] > 0
    assert attrs[sc.GEN_AI_USAGE_COST] > 0  # gpt-4o-mini through a loopback relay: OpenAI's price


def test_a_hosted_model_behind_a_loopback_endpoint_is_a_proxy_not_local_inference(client, spans):
    client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    attrs = only(spans).attributes
    assert attrs[sc.SCI_PROXIED] is True
    assert attrs[sc.SCI_ENERGY_METHOD] == "estimated" and attrs[sc.SCI_INTENSITY_ZONE] == "US"
    assert attrs[sc.GEN_AI_USAGE_COST] > 0


@pytest.mark.parametrize("how", ["break-close", "context-manager", "garbage-collected"])
def test_stream_left_early_ends_the_span_once(client, spans, how):
    if how == "break-close":
        stream = client.chat.completions.create(model="gpt-4o-mini", messages=[], stream=True)
        for _ in stream:
            break
        stream.close()
        stream.close()
    elif how == "context-manager":
        with client.chat.completions.create(model="gpt-4o-mini", messages=[], stream=True) as stream:
            next(iter(stream))
    else:
        stream = client.chat.completions.create(model="gpt-4o-mini", messages=[], stream=True)
        next(stream)
        del stream
        gc.collect()
    span = only(spans)
    assert span.end_time is not None
    assert span.status.status_code is not StatusCode.ERROR


def test_malformed_stream_fails_the_span_and_reraises(client, spans):
    with pytest.raises(ValueError):  # the SDK's JSON decode of the broken chunk
        list(client.chat.completions.create(model="fail-garbage", messages=[], stream=True))
    span = only(spans)
    assert span.status.status_code is StatusCode.ERROR
    assert sc.ERROR_TYPE in span.attributes


@pytest.mark.parametrize("model, error, error_type", [
    ("fail-400", openai.BadRequestError, "BadRequestError"),
    ("fail-500", openai.InternalServerError, "InternalServerError"),
    ("fail-slow", openai.APITimeoutError, "APITimeoutError"),
])
def test_errors_are_recorded_and_reraised(client, spans, model, error, error_type):
    with pytest.raises(error):
        client.chat.completions.create(model=model, messages=[])
    span = only(spans)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[sc.ERROR_TYPE] == error_type
    assert_no_secret(span)


def test_embeddings(client, spans):
    client.embeddings.create(model="text-embedding-3-small", input="hello")
    attrs = only(spans).attributes
    assert attrs[sc.GEN_AI_OPERATION_NAME] == "embeddings"
    assert attrs[sc.GEN_AI_USAGE_INPUT_TOKENS] == PROMPT_TOKENS
    assert sc.SCI_CARBON in attrs


def test_responses_api(client, spans):
    result = client.responses.create(model="gpt-4o-mini", input="hi")
    assert result.output_text == "".join(WORDS)
    attrs = only(spans).attributes
    assert_usage(attrs)
    assert attrs[sc.GEN_AI_RESPONSE_FINISH_REASONS] == ("completed",)


def test_responses_api_stream(client, spans):
    events = list(client.responses.create(model="gpt-4o-mini", input="hi", stream=True))
    assert events[-1].type == "response.completed"
    assert_usage(only(spans).attributes)


def test_async_chat_and_stream(aclient, spans):
    async def main():
        await aclient.chat.completions.create(model="gpt-4o-mini", messages=[])
        stream = await aclient.chat.completions.create(model="gpt-4o-mini", messages=[], stream=True,
                                                       stream_options={"include_usage": True})
        async for _ in stream:
            pass
        early = await aclient.chat.completions.create(model="gpt-4o-mini", messages=[], stream=True)
        async for _ in early:
            break
        await early.close()
        with pytest.raises(openai.InternalServerError):
            await aclient.chat.completions.create(model="fail-500", messages=[])

    asyncio.run(main())
    finished = spans.get_finished_spans()
    assert len(finished) == 4
    assert_usage(finished[0].attributes)
    assert_usage(finished[1].attributes)
    assert finished[3].status.status_code is StatusCode.ERROR


def test_uninstrument_restores_the_originals():
    from openai.resources.chat.completions import Completions

    original = Completions.create
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument()
    assert Completions.create is not original
    instrumentor.uninstrument()
    assert Completions.create is original


def test_provider_from_base_url():
    from otel_carbon.instrumentations._shared import provider_from_base_url

    assert provider_from_base_url("https://api.openai.com/v1", "openai").provider == "openai"
    assert provider_from_base_url("https://x.openai.azure.com/openai", "openai").provider == "azure.ai.openai"
    assert provider_from_base_url("https://api.groq.com/openai/v1", "openai").provider == "groq"
    local = provider_from_base_url("http://localhost:11434/v1", "openai")
    assert (local.provider, local.local, local.port) == ("ollama", True, 11434)
    assert provider_from_base_url("http://127.0.0.1:8000/v1", "openai").provider == "vllm"
    assert provider_from_base_url("not a url", "openai").provider == "openai"
