"""The real ``ollama`` client against a loopback server speaking Ollama's REST API."""

from __future__ import annotations

import asyncio
import gc
import json

import ollama
import pytest
from instrumented import host_metered, instrumented
from opentelemetry.trace import SpanKind, StatusCode
from wire.ollama import EVAL_COUNT, PROMPT_EVAL_COUNT, WORDS, routes
from wire_server import WireServer, word_tokens

from otel_carbon import semconv as sc
from otel_carbon.instrumentations.ollama import OllamaInstrumentor
from otel_carbon.instrumentations.ollama.extract import is_cloud_model, request

MODEL = "llama3.2:3b"
MESSAGES = [{"role": "user", "content": "De quelle couleur est le ciel ?"}]
SECRET = "ollama-cloud-key-never-in-spans"


@pytest.fixture(scope="module")
def server():
    with WireServer(routes()) as server:
        yield server


@pytest.fixture
def traced():
    """Our instrumentation over this host's real meter: loopback calls are measured local inference."""
    with host_metered() as meter, instrumented(OllamaInstrumentor()) as exporter:
        yield exporter, meter


@pytest.fixture
def spans(traced):
    return traced[0]


@pytest.fixture
def client(server):
    return ollama.Client(host=server.url, headers={"Authorization": f"Bearer {SECRET}"}, timeout=2.0)


@pytest.fixture
def aclient(server):
    return ollama.AsyncClient(host=server.url, timeout=2.0)


def only(exporter):
    (span,) = exporter.get_finished_spans()
    return span


def assert_generation(span, operation="chat", model=MODEL):
    attrs = span.attributes
    assert span.name == f"{operation} {model}"
    assert span.kind is SpanKind.CLIENT
    assert attrs[sc.GEN_AI_OPERATION_NAME] == operation
    assert attrs[sc.GEN_AI_PROVIDER_NAME] == "ollama"
    assert attrs[sc.GEN_AI_RESPONSE_MODEL] == model
    assert attrs[sc.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)
    assert attrs[sc.GEN_AI_USAGE_INPUT_TOKENS] == PROMPT_EVAL_COUNT
    assert attrs[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == EVAL_COUNT


def assert_measured(span):
    """The call ran inside an energy window of the host meter, and the processor used it."""
    assert span.attributes[sc.SCI_ENERGY_METHOD] == "measured"
    assert sc.SCI_MEASURED_HOST in span.attributes
    assert span.attributes[sc.SCI_CARBON] > 0


def test_chat(client, server, traced):
    spans, meter = traced
    result = client.chat(MODEL, messages=MESSAGES, options={"temperature": 0.2, "num_predict": 128})
    assert result.message.content == "".join(WORDS)
    span = only(spans)
    assert_generation(span)
    attrs = span.attributes
    assert attrs[sc.GEN_AI_REQUEST_MODEL] == MODEL
    assert attrs[sc.GEN_AI_REQUEST_MAX_TOKENS] == 128
    assert attrs[sc.GEN_AI_REQUEST_TEMPERATURE] == 0.2
    assert (attrs[sc.SERVER_ADDRESS], attrs[sc.SERVER_PORT]) == ("127.0.0.1", server.server_address[1])
    assert sc.GEN_AI_INPUT_MESSAGES not in attrs  # content is opt-in
    assert_measured(span)
    assert meter.open_windows == 0
    headers = {name.lower(): value for name, value in server.calls[-1].headers.items()}
    assert headers["authorization"] == f"Bearer {SECRET}"  # the key did go to the server
    assert SECRET not in repr(dict(attrs)) + span.name


def test_positional_generate_with_options_object(client, spans):
    result = client.generate(MODEL, "Pourquoi le ciel est-il bleu ?", options=ollama.Options(num_predict=64, top_p=0.9))
    assert result.response == "".join(WORDS)
    span = only(spans)
    assert_generation(span, "text_completion")
    assert span.attributes[sc.GEN_AI_REQUEST_MAX_TOKENS] == 64
    assert span.attributes[sc.GEN_AI_REQUEST_TOP_P] == 0.9
    assert_measured(span)


def test_content_is_recorded_only_when_opted_in(client, spans, monkeypatch):
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "true")
    client.chat(MODEL, MESSAGES)
    attrs = only(spans).attributes
    assert json.loads(attrs[sc.GEN_AI_INPUT_MESSAGES]) == MESSAGES
    assert json.loads(attrs[sc.GEN_AI_OUTPUT_MESSAGES]) == ["".join(WORDS)]


@pytest.mark.parametrize("method, operation", [("chat", "chat"), ("generate", "text_completion")])
def test_stream_drained(client, traced, method, operation):
    spans, meter = traced
    arguments = {"messages": MESSAGES} if method == "chat" else {"prompt": "Le ciel ?"}
    parts = list(getattr(client, method)(model=MODEL, stream=True, **arguments))
    assert len(parts) == len(WORDS) + 1 and parts[-1].done
    span = only(spans)
    assert span.attributes[sc.GEN_AI_REQUEST_STREAM] is True
    assert_generation(span, operation)
    assert_measured(span)
    assert meter.open_windows == 0


@pytest.mark.parametrize("how", ["break-close", "garbage-collected"])
def test_stream_left_early_ends_the_span_once(client, traced, how):
    spans, meter = traced
    stream = client.chat(MODEL, MESSAGES, stream=True)
    first = next(stream)
    assert first.message.content == WORDS[0]
    if how == "break-close":
        stream.close()
        stream.close()
    else:
        del stream
        gc.collect()
    span = only(spans)
    assert span.end_time is not None
    assert span.status.status_code is not StatusCode.ERROR
    assert span.attributes[sc.GEN_AI_RESPONSE_MODEL] == MODEL
    assert sc.GEN_AI_USAGE_OUTPUT_TOKENS not in span.attributes  # counts come only with the final part
    assert meter.open_windows == 0


@pytest.mark.parametrize("model, error, error_type", [
    ("fail-garbage", json.JSONDecodeError, "JSONDecodeError"),
    ("fail-stream-error", ollama.ResponseError, "ResponseError"),
])
def test_stream_failing_mid_way(client, traced, model, error, error_type):
    spans, meter = traced
    stream = client.generate(model, "Le ciel ?", stream=True)
    assert next(stream).response == WORDS[0]
    with pytest.raises(error):
        next(stream)
    span = only(spans)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[sc.ERROR_TYPE] == error_type
    assert meter.open_windows == 0


@pytest.mark.parametrize("model, error, error_type, status", [
    ("fail-400", ollama.ResponseError, "ResponseError", 400),
    ("fail-500", ollama.ResponseError, "ResponseError", 500),
    ("fail-garbage", json.JSONDecodeError, "JSONDecodeError", None),
])
def test_errors_are_recorded_and_reraised(client, spans, model, error, error_type, status):
    with pytest.raises(error) as raised:
        client.chat(model, MESSAGES)
    assert getattr(raised.value, "status_code", None) == status
    span = only(spans)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[sc.ERROR_TYPE] == error_type


def test_stream_whose_request_fails(client, spans):
    """A stream's request is sent on the first ``next``: the error arrives there, and ends the span."""
    stream = client.chat("fail-500", MESSAGES, stream=True)
    with pytest.raises(ollama.ResponseError):
        next(stream)
    assert only(spans).attributes[sc.ERROR_TYPE] == "ResponseError"


def test_embed_and_deprecated_embeddings(client, spans):
    inputs = ["le ciel est bleu", "la mer aussi"]
    result = client.embed("nomic-embed-text", inputs)
    assert len(result.embeddings) == 2
    client.embeddings("nomic-embed-text", "le ciel")
    embed, legacy = spans.get_finished_spans()
    assert embed.name == legacy.name == "embeddings nomic-embed-text"
    assert embed.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == word_tokens(inputs) == 7
    assert_measured(embed)
    assert sc.GEN_AI_USAGE_INPUT_TOKENS not in legacy.attributes  # /api/embeddings reports no counts
    assert legacy.status.status_code is not StatusCode.ERROR


def test_async_chat_stream_and_embed(aclient, traced):
    spans, meter = traced

    async def main():
        await aclient.chat(MODEL, MESSAGES)
        async for _ in await aclient.generate(MODEL, "Le ciel ?", stream=True):
            pass
        early = await aclient.chat(MODEL, MESSAGES, stream=True)
        async for _ in early:
            break
        await early.aclose()
        await aclient.embed("nomic-embed-text", "un deux trois")
        with pytest.raises(ollama.ResponseError):
            await aclient.chat("fail-400", MESSAGES)

    asyncio.run(main())
    chat, streamed, left, embedded, failed = spans.get_finished_spans()
    assert_generation(chat)
    assert_generation(streamed, "text_completion")
    assert_measured(streamed)
    assert left.end_time is not None and left.status.status_code is not StatusCode.ERROR
    assert embedded.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == 3
    assert failed.attributes[sc.ERROR_TYPE] == "ResponseError"
    assert meter.open_windows == 0


def test_module_level_functions_are_traced(server, spans, monkeypatch):
    """``ollama.chat`` is a method of a client made at import: it is traced like any client's."""
    monkeypatch.setattr(ollama._client._client, "base_url", server.url)  # as OLLAMA_HOST would have set it
    ollama.chat(MODEL, MESSAGES)
    list(ollama.generate(MODEL, "Le ciel ?", stream=True))
    ollama.embed("nomic-embed-text", "un deux")
    chat, generated, embedded = spans.get_finished_spans()
    assert_generation(chat)
    assert_generation(generated, "text_completion")
    assert embedded.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == 2


def test_cloud_models_are_not_local(client, spans):
    """The local server forwards cloud models to ollama.com: estimated, not measured here."""
    assert is_cloud_model("gpt-oss:120b-cloud") and is_cloud_model("gemma4:cloud")
    assert not is_cloud_model("llama3.2:3b") and not is_cloud_model("cloud") and not is_cloud_model(None)
    client.chat("gpt-oss:120b-cloud", MESSAGES)
    attrs = only(spans).attributes
    assert attrs[sc.SCI_ENERGY_METHOD] == "estimated"
    assert sc.SCI_MEASURED_HOST not in attrs
    assert attrs[sc.SCI_CARBON] > 0


def test_endpoints_default_remote_and_any_loopback_port():
    """Pure request facts (no call): the provider is Ollama whatever the port; only loopback is local."""
    default = request("chat", ("model",), ollama.Client(), (MODEL,), {})
    assert (default.server_address, default.server_port, default.local) == ("127.0.0.1", 11434, True)
    hosted = request("chat", ("model",), ollama.Client(host="https://ollama.com"), (), {"model": "gpt-oss:120b"})
    assert (hosted.provider, hosted.server_address, hosted.local) == ("ollama", "ollama.com", False)
    on_vllm_port = request("embeddings", ("model",), ollama.Client(host="http://localhost:8000"), (), {"model": "e5"})
    assert (on_vllm_port.provider, on_vllm_port.local) == ("ollama", True)


def test_uninstrument_restores_the_originals():
    names = ("chat", "generate", "embed", "embeddings")
    slots = [(cls, name) for cls in (ollama.Client, ollama.AsyncClient) for name in names]
    originals = [cls.__dict__[name] for cls, name in slots]
    module_functions = [getattr(ollama, name) for name in names]
    instrumentor = OllamaInstrumentor()
    instrumentor.instrument()
    assert not any(cls.__dict__[name] is original for (cls, name), original in zip(slots, originals))
    assert not any(getattr(ollama, name) is function for name, function in zip(names, module_functions))
    instrumentor.uninstrument()
    assert [cls.__dict__[name] for cls, name in slots] == originals
    assert all(getattr(ollama, name) is function for name, function in zip(names, module_functions))
