"""The real ``google-genai`` SDK against a loopback server speaking the Gemini API's wire format."""

from __future__ import annotations

import asyncio
import gc
import json

import pytest
from google import genai
from google.genai import errors, types
from instrumented import instrumented
from opentelemetry.trace import StatusCode
from wire.gemini import CACHED_TOKENS, CANDIDATES_TOKENS, PROMPT_TOKENS, RESPONSE_ID, THOUGHTS_TOKENS, WORDS, routes
from wire_server import WireServer, word_tokens

from otel_carbon import semconv as sc
from otel_carbon.instrumentations.google_genai import GoogleGenAIInstrumentor
from otel_carbon.instrumentations.google_genai.extract import request, usage_response

API_KEY = "gemini-test-secret-never-in-spans"
MODEL = "gemini-2.5-flash"
# Output counts the thinking as well as the answer (Gemini reports them apart).
OUTPUT_TOKENS = CANDIDATES_TOKENS + THOUGHTS_TOKENS


@pytest.fixture(scope="module")
def server():
    with WireServer(routes()) as server:
        yield server


@pytest.fixture
def spans():
    with instrumented(GoogleGenAIInstrumentor()) as exporter:
        yield exporter


def client_for(server, **kwargs):
    return genai.Client(api_key=API_KEY, http_options=types.HttpOptions(base_url=server.url, timeout=2000), **kwargs)


@pytest.fixture
def client(server):
    return client_for(server)


def only(exporter):
    (span,) = exporter.get_finished_spans()
    return span


def assert_usage(attrs):
    assert attrs[sc.GEN_AI_USAGE_INPUT_TOKENS] == PROMPT_TOKENS  # Gemini counts the cached prefix inside
    assert attrs[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == OUTPUT_TOKENS
    assert attrs[sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == CACHED_TOKENS
    assert attrs[sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] == THOUGHTS_TOKENS


def assert_no_secret(span):
    assert API_KEY not in repr(dict(span.attributes)) + repr(span.events) + span.name


def test_generate_content(client, server, spans):
    config = types.GenerateContentConfig(max_output_tokens=256, temperature=0.2, top_p=0.9)
    result = client.models.generate_content(model=MODEL, contents="Hallo?", config=config)
    assert result.text == "".join(WORDS)
    assert server.calls[-1].headers["x-goog-api-key"] == API_KEY  # the key did go to the server
    span = only(spans)
    attrs = span.attributes
    assert span.name == f"chat {MODEL}"
    assert attrs[sc.GEN_AI_OPERATION_NAME] == "chat"
    assert attrs[sc.GEN_AI_PROVIDER_NAME] == "gcp.gemini"
    assert attrs[sc.GEN_AI_REQUEST_MODEL] == MODEL
    assert attrs[sc.GEN_AI_RESPONSE_MODEL] == f"{MODEL}-001"
    assert attrs[sc.GEN_AI_RESPONSE_ID] == RESPONSE_ID
    assert attrs[sc.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)
    assert (attrs[sc.GEN_AI_REQUEST_MAX_TOKENS], attrs[sc.GEN_AI_REQUEST_TEMPERATURE]) == (256, 0.2)
    assert attrs[sc.GEN_AI_REQUEST_TOP_P] == 0.9
    assert (attrs[sc.SERVER_ADDRESS], attrs[sc.SERVER_PORT]) == ("127.0.0.1", server.server_address[1])
    assert sc.GEN_AI_REQUEST_STREAM not in attrs
    assert_usage(attrs)
    assert attrs[sc.SCI_CARBON] > 0  # enriched by the processor
    assert sc.GEN_AI_INPUT_MESSAGES not in attrs  # content is opt-in
    assert_no_secret(span)


def test_dict_config_and_content_opt_in(client, spans, monkeypatch):
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "true")
    client.models.generate_content(model=MODEL, contents="Hallo?",
                                   config={"max_output_tokens": 64, "system_instruction": "Be brief."})
    attrs = only(spans).attributes
    assert attrs[sc.GEN_AI_REQUEST_MAX_TOKENS] == 64
    assert json.loads(attrs[sc.GEN_AI_INPUT_MESSAGES]) == "Hallo?"
    assert json.loads(attrs[sc.GEN_AI_SYSTEM_INSTRUCTIONS]) == "Be brief."
    assert json.loads(attrs[sc.GEN_AI_OUTPUT_MESSAGES]) == ["".join(WORDS)]


def test_per_call_base_url_is_the_endpoint(server, spans):
    client = genai.Client(api_key=API_KEY)  # the Gemini API's own host, overridden per call
    config = types.GenerateContentConfig(http_options=types.HttpOptions(base_url=server.url, timeout=2000))
    client.models.generate_content(model=MODEL, contents="Hallo?", config=config)
    attrs = only(spans).attributes
    assert (attrs[sc.SERVER_ADDRESS], attrs[sc.SERVER_PORT]) == ("127.0.0.1", server.server_address[1])
    assert attrs[sc.GEN_AI_PROVIDER_NAME] == "gcp.gemini"


def test_vertex_ai_client(server, spans):
    client = client_for(server, vertexai=True)
    client.models.generate_content(model=MODEL, contents="Hallo?")
    result = client.models.embed_content(model="text-embedding-005", contents=["eins zwei drei", "vier"])
    assert [e.statistics.token_count for e in result.embeddings] == [3, 1]
    assert [call.path.split("/", 2)[1] for call in server.calls[-2:]] == ["v1beta1", "v1beta1"]
    chat, embed = spans.get_finished_spans()
    assert chat.attributes[sc.GEN_AI_PROVIDER_NAME] == "gcp.vertex_ai"
    assert_usage(chat.attributes)
    assert embed.attributes[sc.GEN_AI_PROVIDER_NAME] == "gcp.vertex_ai"
    assert embed.attributes[sc.GEN_AI_OPERATION_NAME] == "embeddings"
    assert embed.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == 4  # the predictions' statistics, summed


def test_embed_content(client, spans):
    texts = ["ein Satz mit fünf Wörtern", "und noch drei"]
    result = client.models.embed_content(model="gemini-embedding-001", contents=texts)
    assert len(result.embeddings) == 2
    span = only(spans)
    assert span.name == "embeddings gemini-embedding-001"
    assert span.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == word_tokens(texts) == 8
    assert sc.GEN_AI_USAGE_OUTPUT_TOKENS not in span.attributes
    assert span.attributes[sc.SCI_CARBON] > 0


def test_stream_drained(client, spans):
    chunks = list(client.models.generate_content_stream(model=MODEL, contents="Hallo?"))
    assert "".join(chunk.text for chunk in chunks) == "".join(WORDS)
    span = only(spans)
    attrs = span.attributes
    assert attrs[sc.GEN_AI_REQUEST_STREAM] is True
    assert attrs[sc.GEN_AI_RESPONSE_ID] == RESPONSE_ID
    assert attrs[sc.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)
    assert_usage(attrs)  # the last chunk's running totals, not a sum over chunks
    assert attrs[sc.SCI_CARBON] > 0


@pytest.mark.parametrize("how", ["break-close", "garbage-collected"])
def test_stream_left_early_ends_the_span_once(client, spans, how):
    stream = client.models.generate_content_stream(model=MODEL, contents="Hallo?")
    first = next(stream)
    if how == "break-close":
        stream.close()
        stream.close()
    else:
        del stream
        gc.collect()
    assert first.text == WORDS[0]
    span = only(spans)
    assert span.end_time is not None
    assert span.status.status_code is not StatusCode.ERROR
    # the first chunk's running totals: the prompt, and one answer token so far
    assert span.attributes[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 1 + THOUGHTS_TOKENS
    assert sc.GEN_AI_RESPONSE_FINISH_REASONS not in span.attributes


def test_malformed_stream_fails_the_span_and_reraises(client, spans):
    stream = client.models.generate_content_stream(model="fail-garbage", contents="Hallo?")
    assert next(stream).text == WORDS[0]
    with pytest.raises(errors.UnknownApiResponseError):
        next(stream)
    span = only(spans)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[sc.ERROR_TYPE] == "UnknownApiResponseError"


@pytest.mark.parametrize("model, error, error_type", [
    ("fail-400", errors.ClientError, "ClientError"),
    ("fail-500", errors.ServerError, "ServerError"),
    ("fail-garbage", json.JSONDecodeError, "JSONDecodeError"),
])
def test_errors_are_recorded_and_reraised(client, spans, model, error, error_type):
    with pytest.raises(error):
        client.models.generate_content(model=model, contents="Hallo?")
    with pytest.raises(error):
        client.models.embed_content(model=model, contents="Hallo?")
    failed = spans.get_finished_spans()
    assert [span.attributes[sc.GEN_AI_OPERATION_NAME] for span in failed] == ["chat", "embeddings"]
    for span in failed:
        assert span.status.status_code is StatusCode.ERROR
        assert span.attributes[sc.ERROR_TYPE] == error_type
        assert sc.GEN_AI_USAGE_INPUT_TOKENS not in span.attributes
        assert_no_secret(span)


@pytest.mark.parametrize("model, error", [("fail-400", errors.ClientError), ("fail-500", errors.ServerError)])
def test_stream_error_status_fails_when_first_read(client, spans, model, error):
    stream = client.models.generate_content_stream(model=model, contents="Hallo?")
    with pytest.raises(error):
        next(stream)
    span = only(spans)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[sc.ERROR_TYPE] == error.__name__


def test_chat_session_is_one_span_per_message(client, spans):
    chat = client.chats.create(model=MODEL)
    chat.send_message("Hallo?")
    chat.send_message("Und jetzt?")
    first, second = spans.get_finished_spans()
    assert first.name == second.name == f"chat {MODEL}"
    assert_usage(second.attributes)


def test_async(server, spans):
    async def main():
        models = client_for(server).aio.models
        await models.generate_content(model=MODEL, contents="Hallo?")
        drained = [chunk.text async for chunk in await models.generate_content_stream(model=MODEL, contents="Hallo?")]
        stream = await models.generate_content_stream(model=MODEL, contents="Hallo?")
        async for _ in stream:
            break
        await stream.aclose()
        await models.embed_content(model="gemini-embedding-001", contents="zwei Wörter")
        with pytest.raises(errors.ServerError):
            await models.generate_content(model="fail-500", contents="Hallo?")
        return drained

    assert "".join(asyncio.run(main())) == "".join(WORDS)
    plain, streamed, left, embedded, failed = spans.get_finished_spans()
    assert_usage(plain.attributes)
    assert_usage(streamed.attributes)
    assert streamed.attributes[sc.GEN_AI_REQUEST_STREAM] is True
    assert left.end_time is not None and left.status.status_code is not StatusCode.ERROR
    assert embedded.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == 2
    assert failed.attributes[sc.ERROR_TYPE] == "ServerError"


@pytest.mark.parametrize("kwargs, provider, address", [
    ({"api_key": API_KEY}, "gcp.gemini", "generativelanguage.googleapis.com"),
    ({"vertexai": True, "project": "p", "location": "europe-west4"}, "gcp.vertex_ai",
     "europe-west4-aiplatform.googleapis.com"),
])
def test_cloud_endpoints(kwargs, provider, address):
    start = request("chat", False, genai.Client(**kwargs).models, (), {"model": MODEL})
    assert (start.provider, start.server_address, start.server_port, start.local) == (provider, address, 443, False)


def test_usage_counts_tool_use_prompt_tokens_as_input():
    usage = types.GenerateContentResponseUsageMetadata(
        prompt_token_count=40, tool_use_prompt_token_count=300, candidates_token_count=12)
    response = usage_response(MODEL, None, [], usage)
    assert (response.input_tokens, response.output_tokens) == (340, 12)
    assert response.reasoning_tokens is None and response.cache_read_tokens is None
    empty = usage_response(MODEL, None, [], None)
    assert (empty.input_tokens, empty.output_tokens) == (None, None)


def test_uninstrument_restores_the_originals():
    from google.genai.models import AsyncModels, Models

    names = [(cls, name) for cls in (Models, AsyncModels)
             for name in ("generate_content", "generate_content_stream", "embed_content")]
    originals = [cls.__dict__[name] for cls, name in names]
    instrumentor = GoogleGenAIInstrumentor()
    instrumentor.instrument()
    assert all(cls.__dict__[name] is not original for (cls, name), original in zip(names, originals, strict=True))
    instrumentor.uninstrument()
    assert [cls.__dict__[name] for cls, name in names] == originals

