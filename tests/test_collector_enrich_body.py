"""The gateway enriches a request's bytes: everything but the carbon attributes it appends comes back as it came.

``enrich_body`` reads a request through views (spans, resources and scopes as bytes), appends
the carbon attributes to the bytes of each GenAI span and writes the request back.  Decoded
with the real OTLP types, the result must be the request that came in — every resource,
scope, schema URL, event, link, status and plain span — plus those attributes, on the GenAI
spans only.  Calls of one plan costed together (numpy columns) and one by one give the same
bytes.
"""

from __future__ import annotations

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from otel_carbon import semconv as sc
from otel_carbon.collector import otlp
from otel_carbon.collector.columns import MIN_CALLS
from otel_carbon.collector.otlp import enrich_body
from otel_carbon.collector.wire import any_value
from otel_carbon.config import CarbonSettings
from otel_carbon.processors.enrich import EnrichmentContext, enrich
from otel_carbon.processors.nesting import CallNests

CONTEXT = EnrichmentContext(settings=CarbonSettings())  # no zone set: a local call takes its cloud region's
GENAI = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o-mini"}
LOCAL = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "ollama", "gen_ai.request.model": "llama3.2:1b",
         "server.address": "127.0.0.1", "server.port": 11434}


def _attributes(values: dict) -> list[KeyValue]:
    return [KeyValue(key=k, value=any_value(v)) for k, v in values.items()]


def mixed_request() -> ExportTraceServiceRequest:
    """Two resources of two scopes each — a hosted model's calls, and a local model's in a cloud region —
    GenAI spans among plain ones, with events, links, statuses; plain spans whose event mentions
    ``gen_ai.``; spans already accounted for."""
    request = ExportTraceServiceRequest()
    span_ids = iter(range(1, 10_000))
    for resource_index, resource in enumerate(({"service.name": "chat-api"},
                                               {"service.name": "batch", "cloud.provider": "gcp",
                                                "cloud.region": "europe-west1"})):
        resource_spans = request.resource_spans.add(schema_url=f"https://example.com/r{resource_index}")
        resource_spans.resource.attributes.extend(_attributes(resource))
        resource_spans.resource.dropped_attributes_count = resource_index
        for scope_index in range(2):
            scope_spans = resource_spans.scope_spans.add(schema_url=f"https://example.com/s{scope_index}")
            scope_spans.scope.name, scope_spans.scope.version = f"scope {scope_index}", "1.2.3"
            for index in range(2 * MIN_CALLS):
                span = scope_spans.spans.add(
                    name=f"span {index}", trace_id=(resource_index + 1).to_bytes(16, "big"),
                    span_id=next(span_ids).to_bytes(8, "big"), kind=Span.SPAN_KIND_CLIENT,
                    start_time_unix_nano=1_000 + index, end_time_unix_nano=2_000 + index,
                    status=Status(code=Status.STATUS_CODE_OK), dropped_events_count=index % 3,
                )
                span.events.add(name="gen_ai.content.prompt" if index % 5 == 1 else "retry", time_unix_nano=1_500)
                if index % 4 == 3:
                    span.links.add(trace_id=bytes(16), span_id=bytes(7) + b"\x01")
                if index % 2 == 0:  # GenAI: tokens differ per span; every 6th one has its own cost
                    values = {**(GENAI if resource_index == 0 else LOCAL), "gen_ai.usage.input_tokens": 100 + 37 * index,
                              "gen_ai.usage.output_tokens": 10 + index}
                    if index % 6 == 0:
                        values[sc.GEN_AI_USAGE_COST] = 0.25
                    span.attributes.extend(_attributes(values))
                elif index == 5:  # already counted by an in-process processor
                    span.attributes.extend(_attributes({**GENAI, **enrich({**GENAI, "gen_ai.usage.input_tokens": 9},
                                                                          {}, CONTEXT).attributes}))
                else:
                    span.attributes.extend(_attributes({"http.request.method": "GET", "url.path": "/health"}))
    return request


def test_everything_but_the_carbon_attributes_comes_back_as_it_came():
    request = mixed_request()
    enriched = enrich_body(request.SerializeToString(), CONTEXT, nests=CallNests())
    out = ExportTraceServiceRequest.FromString(enriched.body)
    zones = [{kv.value.string_value for s in r.scope_spans for span in s.spans for kv in span.attributes
              if kv.key == sc.SCI_INTENSITY_ZONE} for r in out.resource_spans]
    # The hosted model's zone; the local model's, from its resource's cloud region (and a span counted upstream).
    assert zones == [{"US"}, {"BE", "US"}]
    genai = 0
    for resource_in, resource_out in zip(request.resource_spans, out.resource_spans, strict=True):
        resource = {kv.key: kv.value for kv in resource_in.resource.attributes}
        for scope_in, scope_out in zip(resource_in.scope_spans, resource_out.scope_spans, strict=True):
            for span_in, span_out in zip(scope_in.spans, scope_out.spans, strict=True):
                appended = span_out.attributes[len(span_in.attributes):]
                plain = Span()
                plain.CopyFrom(span_out)
                del plain.attributes[len(span_in.attributes):]
                assert plain == span_in, span_in.name
                attributes = {kv.key: otlp.python_value(kv.value) for kv in span_in.attributes}
                if sc.GEN_AI_OPERATION_NAME in attributes and sc.SCI_COUNTED not in attributes:
                    genai += 1
                    expected = enrich(attributes, {k: otlp.python_value(v) for k, v in resource.items()}, CONTEXT)
                    assert [kv.key for kv in appended] == list(expected.attributes), span_in.name
                    assert {kv.key: otlp.python_value(kv.value) for kv in appended} == expected.attributes
                else:
                    assert not appended, span_in.name
        resource_out.ClearField("scope_spans")
        resource_in_copy = type(resource_in)()
        resource_in_copy.CopyFrom(resource_in)
        resource_in_copy.ClearField("scope_spans")
        assert resource_out == resource_in_copy
    assert enriched.counted == genai == 4 * MIN_CALLS


def test_a_request_without_genai_spans_is_forwarded_as_the_same_bytes():
    request = mixed_request()
    for resource_spans in request.resource_spans:
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                del span.attributes[:]
                del span.events[:]
    body = request.SerializeToString()
    assert enrich_body(body, CONTEXT).body is body


@pytest.mark.parametrize("calls", [MIN_CALLS - 1, MIN_CALLS, 5 * MIN_CALLS])
def test_calls_costed_together_and_one_by_one_give_the_same_bytes(calls, monkeypatch):
    request = ExportTraceServiceRequest()
    scope_spans = request.resource_spans.add().scope_spans.add()
    for index in range(calls):
        span = scope_spans.spans.add(name="chat", trace_id=bytes(15) + b"\x07", span_id=(index + 1).to_bytes(8, "big"))
        span.attributes.extend(_attributes({**GENAI, "gen_ai.usage.input_tokens": 1 + 911 * index % 7_000,
                                            "gen_ai.usage.output_tokens": 1 + 37 * index % 900,
                                            "gen_ai.usage.cache_read.input_tokens": 13 * index % 50}))
    body = request.SerializeToString()
    together = enrich_body(body, CONTEXT, nests=CallNests())
    monkeypatch.setattr(otlp, "CostedColumns", None)  # as without numpy (a base install)
    alone = enrich_body(body, CONTEXT, nests=CallNests())
    assert together == alone and together.counted == calls


def _field(tag: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field: tag, varint length, payload."""
    length, size = bytearray(), len(payload)
    while size > 0x7F:
        length.append(size & 0x7F | 0x80)
        size >>= 7
    return bytes([tag, *length, size]) + payload


def test_a_resource_and_a_scope_sent_in_pieces_are_read_merged_and_forwarded_whole():
    """Protobuf merges a message field that comes in several pieces: every piece is read and goes out."""
    from opentelemetry.proto.common.v1.common_pb2 import InstrumentationScope
    from opentelemetry.proto.resource.v1.resource_pb2 import Resource

    span = Span(name="chat", trace_id=bytes(15) + b"\x03", span_id=bytes(7) + b"\x01")
    span.attributes.extend(_attributes({**LOCAL, "gen_ai.usage.input_tokens": 40, "gen_ai.usage.output_tokens": 9}))
    first = Resource(attributes=_attributes({"cloud.provider": "gcp", "service.name": "batch"}))
    second = Resource(attributes=_attributes({"cloud.region": "europe-west1"}))
    scope_spans = (_field(0x0A, InstrumentationScope(name="lib").SerializeToString())  # ScopeSpans.scope, twice
                   + _field(0x12, span.SerializeToString())
                   + _field(0x0A, InstrumentationScope(version="1.0").SerializeToString()))
    resource_spans = (_field(0x0A, first.SerializeToString()) + _field(0x12, scope_spans)  # ResourceSpans.resource,
                      + _field(0x0A, second.SerializeToString()))  # twice, around the scope
    body = _field(0x0A, resource_spans)
    request = ExportTraceServiceRequest.FromString(body)
    assert [kv.key for kv in request.resource_spans[0].resource.attributes] == [
        "cloud.provider", "service.name", "cloud.region"]
    assert request.resource_spans[0].scope_spans[0].scope == InstrumentationScope(name="lib", version="1.0")
    enriched = enrich_body(body, CONTEXT, nests=CallNests())
    out = ExportTraceServiceRequest.FromString(enriched.body)
    assert out.resource_spans[0].resource == request.resource_spans[0].resource
    assert out.resource_spans[0].scope_spans[0].scope == request.resource_spans[0].scope_spans[0].scope
    (span_out,) = out.resource_spans[0].scope_spans[0].spans
    zone = {kv.key: kv.value.string_value for kv in span_out.attributes}[sc.SCI_INTENSITY_ZONE]
    assert zone == "BE" and enriched.counted == 1  # the region came in the second piece


class _FailingOnce:
    """An accountant whose second record fails."""

    def __init__(self) -> None:
        self.recorded: list[int] = []

    def record(self, result, attributes, resource, trace_id, span_id, end_time_ns=None) -> None:
        if len(self.recorded) == 1 and span_id not in self.recorded:
            self.recorded.append(-span_id)
            raise RuntimeError("a sink failed")
        self.recorded.append(span_id)

    def record_duplicate(self) -> None:
        raise AssertionError("no duplicates here")


@pytest.mark.parametrize("calls", [3, 2 * MIN_CALLS])
def test_a_span_whose_recording_fails_goes_out_as_it_came_and_the_others_are_written(calls, caplog, monkeypatch):
    from otel_carbon import _log

    monkeypatch.setattr(_log, "_seen", set())  # log_once remembers keys process-wide
    request = ExportTraceServiceRequest()
    scope_spans = request.resource_spans.add().scope_spans.add()
    for index in range(calls):
        span = scope_spans.spans.add(name="chat", trace_id=bytes(15) + b"\x09", span_id=(index + 1).to_bytes(8, "big"))
        span.attributes.extend(_attributes({**GENAI, "gen_ai.usage.input_tokens": 10 + index,
                                            "gen_ai.usage.output_tokens": 5}))
    accountant = _FailingOnce()
    enriched = enrich_body(request.SerializeToString(), CONTEXT, accountant, CallNests())  # type: ignore[arg-type]
    out = ExportTraceServiceRequest.FromString(enriched.body).resource_spans[0].scope_spans[0].spans
    assert accountant.recorded[1] == -2  # the second span's record failed
    assert [len(span.attributes) > len(GENAI) + 2 for span in out] == [index != 1 for index in range(calls)]
    assert enriched.counted == calls - 1
    assert "could not write a span's carbon" in caplog.text
