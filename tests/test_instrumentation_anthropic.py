"""The real ``anthropic`` SDK against a loopback server, under our instrumentation."""

from __future__ import annotations

import asyncio

import anthropic
import pytest
from instrumented import instrumented
from opentelemetry.trace import StatusCode

from otel_carbon import semconv as sc
from otel_carbon.cli.demo_server import (
    ANTHROPIC_CACHE_READ,
    ANTHROPIC_CACHE_WRITE,
    ANTHROPIC_INPUT,
    ANTHROPIC_OUTPUT,
    WORDS,
)
from otel_carbon.instrumentations.anthropic import AnthropicInstrumentor

API_KEY = "sk-ant-test-secret"
# The conventions count cache reads and writes inside input tokens; Anthropic reports them apart.
CONVENTION_INPUT = ANTHROPIC_INPUT + ANTHROPIC_CACHE_READ + ANTHROPIC_CACHE_WRITE


@pytest.fixture
def server(llm_server):
    return llm_server


@pytest.fixture
def spans():
    with instrumented(AnthropicInstrumentor()) as exporter:
        yield exporter


def client_for(server, cls=anthropic.Anthropic):
    return cls(base_url=server.url.removesuffix("/v1"), api_key=API_KEY, max_retries=0, timeout=1.0)


def assert_usage(attrs):
    assert attrs[sc.GEN_AI_USAGE_INPUT_TOKENS] == CONVENTION_INPUT
    assert attrs[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == ANTHROPIC_OUTPUT
    assert attrs[sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == ANTHROPIC_CACHE_READ
    assert attrs[sc.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS] == ANTHROPIC_CACHE_WRITE


def test_message(server, spans):
    message = client_for(server).messages.create(model="claude-sonnet-4-5", max_tokens=64,
                                                 messages=[{"role": "user", "content": "hi"}])
    assert message.content[0].text == "".join(WORDS)
    (span,) = spans.get_finished_spans()
    attrs = span.attributes
    assert span.name == "chat claude-sonnet-4-5"
    assert attrs[sc.GEN_AI_PROVIDER_NAME] == "anthropic"
    assert attrs[sc.GEN_AI_RESPONSE_FINISH_REASONS] == ("end_turn",)
    assert attrs[sc.GEN_AI_REQUEST_MAX_TOKENS] == 64
    assert_usage(attrs)
    assert attrs[sc.SCI_CARBON] > 0
    assert API_KEY not in repr(dict(attrs))


def test_stream_drained_and_left_early(server, spans):
    client = client_for(server)
    events = list(client.messages.create(model="claude-haiku-4-5", max_tokens=64, messages=[], stream=True))
    assert events[-1].type == "message_stop"
    early = client.messages.create(model="claude-haiku-4-5", max_tokens=64, messages=[], stream=True)
    for _ in early:
        break
    early.close()
    drained, left = spans.get_finished_spans()
    assert_usage(drained.attributes)
    assert drained.attributes[sc.GEN_AI_RESPONSE_FINISH_REASONS] == ("end_turn",)
    assert left.end_time is not None and left.status.status_code is not StatusCode.ERROR


def test_errors_and_malformed_stream(server, spans):
    client = client_for(server)
    with pytest.raises(anthropic.InternalServerError):
        client.messages.create(model="fail-500", max_tokens=1, messages=[])
    with pytest.raises(anthropic.APITimeoutError):
        client.messages.create(model="fail-slow", max_tokens=1, messages=[])  # the server sleeps past timeout=1 s
    with pytest.raises(ValueError):  # the SDK's JSON decode of the broken event
        list(client.messages.create(model="fail-garbage", max_tokens=1, messages=[], stream=True))
    failed, timed_out, garbage = spans.get_finished_spans()
    assert failed.attributes[sc.ERROR_TYPE] == "InternalServerError"
    assert timed_out.attributes[sc.ERROR_TYPE] == "APITimeoutError"
    for span in (failed, timed_out, garbage):
        assert span.status.status_code is StatusCode.ERROR
        assert sc.ERROR_TYPE in span.attributes


def test_async(server, spans):
    async def main():
        client = client_for(server, anthropic.AsyncAnthropic)
        await client.messages.create(model="claude-sonnet-4-5", max_tokens=8, messages=[])
        stream = await client.messages.create(model="claude-sonnet-4-5", max_tokens=8, messages=[], stream=True)
        async for _ in stream:
            pass

    asyncio.run(main())
    plain, streamed = spans.get_finished_spans()
    assert_usage(plain.attributes)
    assert_usage(streamed.attributes)


def test_stream_helper_every_way_of_reading(server, spans):
    client = client_for(server)
    with client.messages.stream(model="claude-haiku-4-5", max_tokens=64, messages=[]) as stream:
        assert "".join(stream.text_stream) == "".join(WORDS)
    with client.messages.stream(model="claude-haiku-4-5", max_tokens=64, messages=[]) as stream:
        final = stream.get_final_message()
    with client.messages.stream(model="claude-haiku-4-5", max_tokens=64, messages=[]) as stream:
        next(iter(stream))  # left after the first event: the block's exit ends the span
    assert final.usage.output_tokens == ANTHROPIC_OUTPUT
    text, final_span, left = spans.get_finished_spans()
    for span in (text, final_span):
        assert span.attributes[sc.GEN_AI_REQUEST_STREAM] is True
        assert span.attributes[sc.GEN_AI_RESPONSE_FINISH_REASONS] == ("end_turn",)
        assert_usage(span.attributes)
        assert span.attributes[sc.SCI_CARBON] > 0
    # message_start already said the input usage; the output count had not arrived
    assert left.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == CONVENTION_INPUT
    assert left.attributes[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 1
    assert left.status.status_code is not StatusCode.ERROR


def test_stream_helper_errors(server, spans):
    client = client_for(server)
    with pytest.raises(anthropic.InternalServerError):
        with client.messages.stream(model="fail-500", max_tokens=1, messages=[]):
            pass
    with pytest.raises(ValueError):
        with client.messages.stream(model="fail-garbage", max_tokens=1, messages=[]) as stream:
            stream.until_done()
    with pytest.raises(KeyError):
        with client.messages.stream(model="claude-haiku-4-5", max_tokens=1, messages=[]):
            raise KeyError("the caller's own error")
    failed, garbage, own = spans.get_finished_spans()
    assert failed.attributes[sc.ERROR_TYPE] == "InternalServerError"
    assert garbage.status.status_code is StatusCode.ERROR
    assert own.attributes[sc.ERROR_TYPE] == "KeyError"


def test_stream_helper_async(server, spans):
    async def main():
        client = client_for(server, anthropic.AsyncAnthropic)
        async with client.messages.stream(model="claude-haiku-4-5", max_tokens=8, messages=[]) as stream:
            return "".join([text async for text in stream.text_stream])

    assert asyncio.run(main()) == "".join(WORDS)
    (span,) = spans.get_finished_spans()
    assert_usage(span.attributes)


def test_uninstrument_restores_the_originals():
    from anthropic.resources.messages import Messages

    originals = Messages.create, Messages.stream
    instrumentor = AnthropicInstrumentor()
    instrumentor.instrument()
    assert Messages.create is not originals[0] and Messages.stream is not originals[1]
    instrumentor.uninstrument()
    assert (Messages.create, Messages.stream) == originals
