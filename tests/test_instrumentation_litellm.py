"""The real ``litellm`` against the OpenAI-compatible loopback server, under our instrumentation.

LiteLLM reaches the server through the ``openai`` SDK (``openai/`` models with
``api_base=``), so these tests also show that with our OpenAI instrumentation
on as well, a LiteLLM call is one span and its carbon is counted once.
"""

from __future__ import annotations

import asyncio
import gc
import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # never fetch the cost map from the network

import openai  # noqa: E402
import pytest  # noqa: E402

# LiteLLM is not in the test extra: its releases installable here pin openai<3 (.ci/run installs it beside openai 3).
litellm = pytest.importorskip("litellm", reason="litellm is not installed (pip install litellm)")
from instrumented import instrumented  # noqa: E402
from opentelemetry.trace import StatusCode  # noqa: E402

from otel_carbon import semconv as sc  # noqa: E402
from otel_carbon.cli.demo_server import (  # noqa: E402
    ANTHROPIC_CACHE_READ,
    ANTHROPIC_CACHE_WRITE,
    ANTHROPIC_INPUT,
    ANTHROPIC_OUTPUT,
    CACHED_TOKENS,
    COMPLETION_TOKENS,
    PROMPT_TOKENS,
    REASONING_TOKENS,
    WORDS,
)
from otel_carbon.instrumentations.litellm import LiteLLMInstrumentor  # noqa: E402
from otel_carbon.instrumentations.litellm.extract import ProviderResolver, request  # noqa: E402
from otel_carbon.instrumentations.openai import OpenAIInstrumentor  # noqa: E402

API_KEY = "sk-litellm-test-secret"
MODEL = "gpt-4o-mini"
MESSAGES = [{"role": "user", "content": "Hello?"}]


@pytest.fixture
def spans():
    with instrumented(LiteLLMInstrumentor()) as exporter:
        yield exporter


def call_kw(server, model=f"openai/{MODEL}", **extra):
    return {"model": model, "api_base": server.url, "api_key": API_KEY, "max_retries": 0, "timeout": 2.0, **extra}


def expected_cost(model=MODEL, fresh=PROMPT_TOKENS - CACHED_TOKENS, cache_read=CACHED_TOKENS, cache_write=0,
                  output=COMPLETION_TOKENS) -> float:
    """LiteLLM's price of a usage, from its own (local) cost map: cached input at the cache rates."""
    prices = litellm.model_cost[model]
    return (fresh * prices["input_cost_per_token"] + cache_read * prices["cache_read_input_token_cost"]
            + cache_write * prices.get("cache_creation_input_token_cost", 0.0) + output * prices["output_cost_per_token"])


def assert_chat(span, server, *, stream=False):
    attrs = span.attributes
    assert span.name == f"chat {MODEL}"
    assert attrs[sc.GEN_AI_OPERATION_NAME] == "chat"
    assert attrs[sc.GEN_AI_PROVIDER_NAME] == "openai"
    assert attrs[sc.GEN_AI_REQUEST_MODEL] == MODEL
    assert attrs[sc.GEN_AI_RESPONSE_ID] == "chatcmpl-1"
    assert attrs[sc.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)
    assert attrs[sc.GEN_AI_USAGE_INPUT_TOKENS] == PROMPT_TOKENS
    assert attrs[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == COMPLETION_TOKENS
    assert attrs[sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == CACHED_TOKENS
    assert attrs[sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] == REASONING_TOKENS
    assert attrs[sc.GEN_AI_USAGE_COST] == pytest.approx(expected_cost())
    assert attrs[sc.SERVER_ADDRESS] == "127.0.0.1" and attrs[sc.SERVER_PORT] == server.server_address[1]
    assert attrs.get(sc.GEN_AI_REQUEST_STREAM, False) is stream
    assert attrs[sc.SCI_CARBON] > 0
    assert span.status.status_code is not StatusCode.ERROR
    assert API_KEY not in repr(dict(attrs))


def test_completion(llm_server, spans):
    response = litellm.completion(messages=MESSAGES, max_tokens=32, temperature=0.5, **call_kw(llm_server))
    assert response.choices[0].message.content == "".join(WORDS)
    (span,) = spans.get_finished_spans()
    assert_chat(span, llm_server)
    assert span.attributes[sc.GEN_AI_RESPONSE_MODEL] == f"{MODEL}-2024-07-18"
    assert span.attributes[sc.GEN_AI_REQUEST_MAX_TOKENS] == 32
    assert span.attributes[sc.GEN_AI_REQUEST_TEMPERATURE] == 0.5


def test_stream_drained_and_left_early(llm_server, spans):
    options = {"stream": True, "stream_options": {"include_usage": True}}
    chunks = list(litellm.completion(messages=MESSAGES, **call_kw(llm_server, **options)))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "".join(WORDS)
    early = litellm.completion(messages=MESSAGES, **call_kw(llm_server, **options))
    for _ in early:
        break
    del early  # abandoned: the proxy ends the span when it is collected
    gc.collect()
    drained, left = spans.get_finished_spans()
    assert_chat(drained, llm_server, stream=True)
    assert left.end_time is not None and left.status.status_code is not StatusCode.ERROR
    # the usage chunk never came: the counts are estimated from the text, and say so
    assert left.attributes[sc.SCI_USAGE_ESTIMATED] is True and left.attributes[sc.SCI_COUNTED] is True


def test_async(llm_server, spans):
    async def main():
        await litellm.acompletion(messages=MESSAGES, **call_kw(llm_server))
        stream = await litellm.acompletion(messages=MESSAGES, **call_kw(llm_server, stream=True,
                                                                          stream_options={"include_usage": True}))
        async for _ in stream:
            pass
        early = await litellm.acompletion(messages=MESSAGES, **call_kw(llm_server, stream=True))
        async for _ in early:
            break
        await early.aclose()

    asyncio.run(main())
    plain, streamed, left = spans.get_finished_spans()
    assert_chat(plain, llm_server)
    assert_chat(streamed, llm_server, stream=True)
    assert left.status.status_code is not StatusCode.ERROR


def test_anthropic_through_litellm_counts_cache_reads_and_writes(llm_server, spans):
    """LiteLLM's own Anthropic client (not an SDK) against the server's ``/v1/messages``."""
    kw = {"model": "anthropic/claude-sonnet-4-5", "api_base": llm_server.root_url, "api_key": API_KEY,
          "max_tokens": 16, "max_retries": 0}
    litellm.completion(messages=MESSAGES, **kw)
    list(litellm.completion(messages=MESSAGES, stream=True, stream_options={"include_usage": True}, **kw))
    cost = expected_cost("claude-sonnet-4-5", ANTHROPIC_INPUT, ANTHROPIC_CACHE_READ, ANTHROPIC_CACHE_WRITE, ANTHROPIC_OUTPUT)
    for span in spans.get_finished_spans():
        attrs = span.attributes
        assert attrs[sc.GEN_AI_PROVIDER_NAME] == "anthropic"
        assert attrs[sc.GEN_AI_REQUEST_MODEL] == "claude-sonnet-4-5"
        assert attrs[sc.GEN_AI_USAGE_INPUT_TOKENS] == ANTHROPIC_INPUT + ANTHROPIC_CACHE_READ + ANTHROPIC_CACHE_WRITE
        assert attrs[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == ANTHROPIC_OUTPUT
        assert attrs[sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == ANTHROPIC_CACHE_READ
        assert attrs[sc.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS] == ANTHROPIC_CACHE_WRITE
        assert attrs[sc.GEN_AI_USAGE_COST] == pytest.approx(cost)
        assert attrs[sc.SCI_CARBON] > 0
    assert len(spans.get_finished_spans()) == 2


def test_embeddings(llm_server, spans):
    kw = call_kw(llm_server, model="openai/text-embedding-3-small", input=["le ciel est bleu"])
    result = litellm.embedding(**kw)
    asyncio.run(litellm.aembedding(**kw))
    assert len(result.data) == 1
    for span in spans.get_finished_spans():
        attrs = span.attributes
        assert span.name == "embeddings text-embedding-3-small"
        assert attrs[sc.GEN_AI_OPERATION_NAME] == "embeddings"
        assert attrs[sc.GEN_AI_USAGE_INPUT_TOKENS] == PROMPT_TOKENS
        assert attrs[sc.SCI_CARBON] > 0
    assert len(spans.get_finished_spans()) == 2


def test_errors_and_malformed_stream(llm_server, spans):
    with pytest.raises(litellm.BadRequestError):
        litellm.completion(messages=MESSAGES, **call_kw(llm_server, model="openai/fail-400"))
    with pytest.raises(litellm.InternalServerError):
        litellm.completion(messages=MESSAGES, **call_kw(llm_server, model="openai/fail-500"))
    with pytest.raises(openai.APIError) as mid_stream:  # LiteLLM's errors subclass the openai SDK's
        list(litellm.completion(messages=MESSAGES, **call_kw(llm_server, model="openai/fail-garbage", stream=True)))
    bad, failed, garbage = spans.get_finished_spans()
    assert bad.attributes[sc.ERROR_TYPE] == "BadRequestError"
    assert failed.attributes[sc.ERROR_TYPE] == "InternalServerError"
    assert garbage.attributes[sc.ERROR_TYPE] == type(mid_stream.value).__qualname__
    for span in (bad, failed, garbage):
        assert span.status.status_code is StatusCode.ERROR
        assert sc.ERROR_TYPE in span.attributes
        assert API_KEY not in repr(dict(span.attributes)) + repr(span.status.description)


def test_with_openai_instrumented_too_one_span_per_call(llm_server):
    # LiteLLM caches its openai clients (by key, among others) and openai caches each client's
    # ``with_raw_response`` view, so a key of its own gives this test a client made while instrumented.
    kw = {**call_kw(llm_server), "api_key": f"{API_KEY}-nested"}
    with instrumented(OpenAIInstrumentor()) as openai_spans:
        litellm.completion(messages=MESSAGES, **kw)
        # LiteLLM really goes through the openai SDK: alone, that instrumentation sees the call
        assert [s.attributes[sc.GEN_AI_PROVIDER_NAME] for s in openai_spans.get_finished_spans()] == ["openai"]
        openai_spans.clear()
        with instrumented(LiteLLMInstrumentor()) as litellm_spans:
            litellm.completion(messages=MESSAGES, **kw)
            asyncio.run(litellm.acompletion(messages=MESSAGES, **kw))
        assert openai_spans.get_finished_spans() == ()  # the nested SDK call made no second span
        assert len(litellm_spans.get_finished_spans()) == 2


@pytest.mark.parametrize(
    ("kwargs", "provider", "model", "address"),
    [
        ({"model": "anthropic/claude-sonnet-4-5"}, "anthropic", "claude-sonnet-4-5", None),
        ({"model": "gpt-4o-mini"}, "openai", "gpt-4o-mini", None),  # LiteLLM's model map knows it
        ({"model": "claude-sonnet-4-5", "custom_llm_provider": "bedrock"}, "aws.bedrock", "claude-sonnet-4-5", None),
        ({"model": "ollama/llama3.2", "api_base": "http://localhost:11434"}, "ollama", "llama3.2", "localhost"),
        ({"model": "openai/llama-3.1-8b", "api_base": "https://api.groq.com/openai/v1"}, "groq", "llama-3.1-8b",
         "api.groq.com"),
        ({"model": "not-a-model-anyone-knows"}, "litellm", "not-a-model-anyone-knows", None),
    ],
)
def test_provider_and_endpoint_of_a_call(kwargs, provider, model, address):
    start = request("chat", ProviderResolver(litellm), None, (), {"messages": [], **kwargs})
    assert (start.provider, start.model, start.server_address) == (provider, model, address)
    assert start.local is (address == "localhost")


def test_positional_arguments(llm_server, spans):
    litellm.completion(f"openai/{MODEL}", MESSAGES, api_base=llm_server.url, api_key=API_KEY, max_retries=0)
    (span,) = spans.get_finished_spans()
    assert span.attributes[sc.GEN_AI_REQUEST_MODEL] == MODEL


def test_uninstrument_restores_the_originals():
    names = ("completion", "acompletion", "embedding", "aembedding")
    originals = [getattr(litellm, name) for name in names]
    instrumentor = LiteLLMInstrumentor()
    instrumentor.instrument()
    assert all(getattr(litellm, name) is not original for name, original in zip(names, originals))
    instrumentor.uninstrument()
    assert [getattr(litellm, name) for name in names] == originals


@pytest.mark.parametrize("request_span", ["false", "true"])
@pytest.mark.parametrize("ours", [True, False], ids=["with-ours", "otel-callback-alone"])
def test_litellm_otel_callback_beside_ours_counts_once(llm_server, monkeypatch, request_span, ours):
    """LiteLLM's own ``otel`` callback: its ``litellm_request`` span is nested in ours, or is the only one."""
    from litellm.integrations.opentelemetry import OpenTelemetry
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from otel_carbon.config import CarbonSettings
    from otel_carbon.processors import CarbonSpanProcessor

    monkeypatch.setenv("USE_OTEL_LITELLM_REQUEST_SPAN", request_span)
    reader = InMemoryMetricReader()
    exporter, provider = InMemorySpanExporter(), TracerProvider()
    provider.add_span_processor(CarbonSpanProcessor(SimpleSpanProcessor(exporter), settings=CarbonSettings(zone="FR"),
                                                    meter_provider=MeterProvider(metric_readers=[reader])))
    instrumentor = LiteLLMInstrumentor()
    if ours:
        instrumentor.instrument(tracer_provider=provider)
    callback = OpenTelemetry(tracer_provider=provider)
    monkeypatch.setattr(litellm, "callbacks", [callback])
    for registered in ("success_callback", "_async_success_callback", "failure_callback", "_async_failure_callback"):
        monkeypatch.setattr(litellm, registered, [])  # LiteLLM copies `callbacks` here on each call
    try:
        litellm.completion(messages=MESSAGES, **call_kw(llm_server))
        for _ in range(100):  # LiteLLM logs success on a worker thread: wait (bounded) for its span
            if any(s.name == "litellm_request" or s.name == "raw_gen_ai_request" and ours
                   for s in exporter.get_finished_spans()):
                break
            provider.force_flush()
            __import__("time").sleep(0.05)
    finally:
        if ours:
            instrumentor.uninstrument()
    genai = [s for s in exporter.get_finished_spans() if sc.GEN_AI_OPERATION_NAME in s.attributes]
    counted = [s for s in genai if s.attributes.get(sc.SCI_COUNTED) is True]
    assert len(counted) == 1, [(s.name, dict(s.attributes)) for s in genai]
    if ours:
        assert counted[0].instrumentation_scope.name.startswith("otel_carbon.instrumentations")
    requests = sum(p.count for rm in reader.get_metrics_data().resource_metrics for sm in rm.scope_metrics
                   for m in sm.metrics if m.name == sc.METRIC_CARBON_PER_REQUEST for p in m.data.data_points)
    assert requests == 1
