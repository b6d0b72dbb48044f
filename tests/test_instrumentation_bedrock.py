"""The real ``boto3`` / ``botocore`` Bedrock Runtime client against a loopback server, under our instrumentation.

The server (``tests/wire/bedrock.py``) speaks the rest-json Converse API and the
binary AWS event stream; botocore checks every CRC of the stream, so these
tests also prove the encoding.
"""

from __future__ import annotations

import json

import boto3
import botocore.exceptions
import pytest
from botocore.client import BaseClient
from botocore.config import Config
from botocore.eventstream import ChecksumMismatch, EventStream
from instrumented import instrumented
from opentelemetry.trace import StatusCode
from wire import bedrock as wire
from wire_server import WireServer

from otel_carbon import semconv as sc
from otel_carbon.instrumentations._shared.content import CAPTURE_CONTENT_ENV
from otel_carbon.instrumentations.bedrock import BedrockInstrumentor

ACCESS_KEY = "AKIDTEST"
SECRET_KEY = "bedrock-test-secret-never-on-spans"
MODEL = "anthropic.claude-3-haiku-20240307-v1:0"
REGION = "eu-west-1"
MESSAGES = [{"role": "user", "content": [{"text": "De quelle couleur est le ciel ?"}]}]
# The conventions count cache reads and writes inside input tokens; Bedrock reports them apart.
CONVENTION_INPUT = wire.INPUT_TOKENS + wire.CACHE_READ_TOKENS + wire.CACHE_WRITE_TOKENS


@pytest.fixture(scope="module")
def server():
    with WireServer(wire.routes()) as running:
        yield running


@pytest.fixture
def spans():
    with instrumented(BedrockInstrumentor()) as exporter:
        yield exporter


def client_for(server, service="bedrock-runtime"):
    return boto3.client(
        service, region_name=REGION, endpoint_url=server.url,
        aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY, aws_session_token="session-token-secret",
        config=Config(retries={"total_max_attempts": 1}, connect_timeout=2, read_timeout=2),
    )


def assert_usage(attrs):
    assert attrs[sc.GEN_AI_USAGE_INPUT_TOKENS] == CONVENTION_INPUT
    assert attrs[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == wire.OUTPUT_TOKENS
    assert attrs[sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == wire.CACHE_READ_TOKENS
    assert attrs[sc.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS] == wire.CACHE_WRITE_TOKENS
    assert attrs[sc.GEN_AI_RESPONSE_FINISH_REASONS] == (wire.STOP_REASON,)


def assert_no_secret(span):
    text = repr(dict(span.attributes)) + repr(span.status) + repr(span.events)
    assert SECRET_KEY not in text and "session-token-secret" not in text


def test_converse(server, spans):
    response = client_for(server).converse(modelId=MODEL, messages=MESSAGES,
                                           inferenceConfig={"maxTokens": 64, "temperature": 0.2, "topP": 0.9})
    assert response["output"]["message"]["content"][0]["text"] == "".join(wire.WORDS)
    (span,) = spans.get_finished_spans()
    attrs = span.attributes
    assert span.name == f"chat {MODEL}"
    assert attrs[sc.GEN_AI_OPERATION_NAME] == "chat"
    assert attrs[sc.GEN_AI_PROVIDER_NAME] == "aws.bedrock"
    assert attrs[sc.GEN_AI_REQUEST_MODEL] == MODEL
    assert attrs[sc.GEN_AI_REQUEST_MAX_TOKENS] == 64
    assert attrs[sc.GEN_AI_REQUEST_TEMPERATURE] == 0.2 and attrs[sc.GEN_AI_REQUEST_TOP_P] == 0.9
    assert attrs[sc.SERVER_ADDRESS] == "127.0.0.1" and attrs[sc.SERVER_PORT] == server.server_address[1]
    assert attrs[sc.CLOUD_REGION] == REGION
    assert sc.GEN_AI_REQUEST_STREAM not in attrs
    assert_usage(attrs)
    assert attrs[sc.SCI_CARBON] > 0
    assert sc.GEN_AI_INPUT_MESSAGES not in attrs  # content capture is off by default
    assert_no_secret(span)
    assert SECRET_KEY not in repr(server.calls[-1].headers)  # SigV4 signs with the secret, never sends it


def test_stream_drained(server, spans):
    response = client_for(server).converse_stream(modelId=MODEL, messages=MESSAGES)
    assert isinstance(response["stream"], EventStream)  # the proxy passes for the SDK's stream
    events = list(response["stream"])
    assert [next(iter(e)) for e in events][:2] == ["messageStart", "contentBlockDelta"]
    assert "".join(e["contentBlockDelta"]["delta"]["text"] for e in events if "contentBlockDelta" in e) == "".join(wire.WORDS)
    (span,) = spans.get_finished_spans()
    assert span.attributes[sc.GEN_AI_REQUEST_STREAM] is True
    assert_usage(span.attributes)
    assert span.attributes[sc.SCI_CARBON] > 0
    assert span.status.status_code is not StatusCode.ERROR
    assert_no_secret(span)


def test_stream_left_early_and_closed(server, spans):
    response = client_for(server).converse_stream(modelId=MODEL, messages=MESSAGES)
    stream = response["stream"]
    for event in stream:
        assert "messageStart" in event
        break
    assert spans.get_finished_spans() == ()  # still open: the caller may come back for more
    stream.close()
    (span,) = spans.get_finished_spans()
    assert span.status.status_code is not StatusCode.ERROR
    assert sc.GEN_AI_USAGE_INPUT_TOKENS not in span.attributes  # the metadata event never arrived


def test_errors(server, spans):
    client = client_for(server)
    with pytest.raises(botocore.exceptions.ClientError) as bad:
        client.converse(modelId="fail-400", messages=MESSAGES)
    with pytest.raises(botocore.exceptions.ClientError) as broken:
        client.converse_stream(modelId="fail-500", messages=MESSAGES)
    assert bad.value.response["Error"]["Code"] == "ValidationException"
    assert broken.value.response["Error"]["Code"] == "InternalServerException"
    failed, failed_stream = spans.get_finished_spans()
    assert failed.attributes[sc.ERROR_TYPE] == "ValidationException"
    assert failed_stream.attributes[sc.ERROR_TYPE] == "InternalServerException"
    for span in (failed, failed_stream):
        assert span.status.status_code is StatusCode.ERROR
        assert_no_secret(span)


def test_stream_failing_part_way(server, spans):
    client = client_for(server)
    seen = []
    with pytest.raises(botocore.exceptions.EventStreamError) as error_event:
        seen.extend(client.converse_stream(modelId="fail-stream-error", messages=MESSAGES)["stream"])
    with pytest.raises(ChecksumMismatch):
        list(client.converse_stream(modelId="fail-garbage", messages=MESSAGES)["stream"])
    assert error_event.value.response["Error"]["Code"] == "modelStreamErrorException"
    assert len(seen) == 2  # messageStart and the first delta came through before the error
    stream_error, garbage = spans.get_finished_spans()
    assert stream_error.attributes[sc.ERROR_TYPE] == "EventStreamError"
    assert garbage.attributes[sc.ERROR_TYPE] == "ChecksumMismatch"
    assert stream_error.status.status_code is garbage.status.status_code is StatusCode.ERROR


def test_invoke_model_counts_from_headers(server, spans):
    body = json.dumps({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 64, "messages": MESSAGES})
    response = client_for(server).invoke_model(modelId=MODEL, body=body)
    assert json.loads(response["body"].read())["content"][0]["text"] == "".join(wire.WORDS)  # the body is untouched
    (span,) = spans.get_finished_spans()
    assert span.name == f"chat {MODEL}"
    assert span.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == CONVENTION_INPUT
    assert span.attributes[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == wire.OUTPUT_TOKENS
    assert span.attributes[sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == wire.CACHE_READ_TOKENS
    assert span.attributes[sc.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS] == wire.CACHE_WRITE_TOKENS
    assert span.attributes[sc.SCI_CARBON] > 0
    assert_no_secret(span)


def test_invoke_model_stream_counts_from_invocation_metrics(server, spans):
    client = client_for(server)
    chunks = [json.loads(e["chunk"]["bytes"]) for e in client.invoke_model_with_response_stream(modelId=MODEL, body=b"{}")["body"]]
    assert [c["type"] for c in chunks][-1] == "message_stop"
    with pytest.raises(botocore.exceptions.EventStreamError):
        list(client.invoke_model_with_response_stream(modelId="fail-stream-error", body=b"{}")["body"])
    drained, failed = spans.get_finished_spans()
    assert drained.attributes[sc.GEN_AI_REQUEST_STREAM] is True
    assert drained.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == CONVENTION_INPUT
    assert drained.attributes[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == wire.OUTPUT_TOKENS
    assert drained.attributes[sc.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS] == wire.CACHE_WRITE_TOKENS
    assert drained.attributes[sc.SCI_CARBON] > 0
    assert failed.attributes[sc.ERROR_TYPE] == "EventStreamError"
    assert sc.GEN_AI_USAGE_INPUT_TOKENS not in failed.attributes


def test_garbage_body_yields_a_span_without_usage(server, spans):
    response = client_for(server).converse(modelId="fail-garbage", messages=MESSAGES)
    assert "usage" not in response  # botocore keeps what it could not parse to itself
    (span,) = spans.get_finished_spans()
    assert span.status.status_code is not StatusCode.ERROR
    assert sc.GEN_AI_USAGE_INPUT_TOKENS not in span.attributes


def test_content_capture_opt_in(server, spans, monkeypatch):
    monkeypatch.setenv(CAPTURE_CONTENT_ENV, "true")
    client = client_for(server)
    client.converse(modelId=MODEL, messages=MESSAGES, system=[{"text": "Réponds en français."}])
    list(client.converse_stream(modelId=MODEL, messages=MESSAGES)["stream"])
    plain, streamed = spans.get_finished_spans()
    assert json.loads(plain.attributes[sc.GEN_AI_INPUT_MESSAGES]) == MESSAGES
    assert json.loads(plain.attributes[sc.GEN_AI_SYSTEM_INSTRUCTIONS]) == [{"text": "Réponds en français."}]
    for span in (plain, streamed):
        assert json.loads(span.attributes[sc.GEN_AI_OUTPUT_MESSAGES]) == ["".join(wire.WORDS)]


def test_other_operations_and_services_pass_through(server, spans):
    client = client_for(server)
    with pytest.raises(botocore.exceptions.ClientError):  # a bedrock-runtime operation we do not trace
        client.apply_guardrail(guardrailIdentifier="g", guardrailVersion="1", source="INPUT", content=[])
    sqs = client_for(server, "sqs")
    with pytest.raises(botocore.exceptions.ClientError):  # another service: no route here, a 404
        sqs.list_queues()
    assert spans.get_finished_spans() == ()


def test_uninstrument_restores_the_original():
    original = BaseClient._make_api_call
    instrumentor = BedrockInstrumentor()
    instrumentor.instrument()
    assert BaseClient._make_api_call is not original
    instrumentor.uninstrument()
    assert BaseClient._make_api_call is original
