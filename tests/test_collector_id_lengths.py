"""The receivers' id-length check in C agrees with the id-by-id check, and never lets a wrong length through.

``have_otlp_lengths`` (a pattern over each scope's ids in canonical form) must answer ``True``
only for requests ``check_ids`` accepts, and ``True`` for every link-free request it accepts;
``decode`` then refuses exactly what ``check_ids`` refuses, naming the id.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from otel_carbon.collector.id_lengths import have_otlp_lengths
from otel_carbon.collector.payload import PROTOBUF, MalformedPayload, check_ids, decode

#: Mostly OTLP's lengths (or empty), sometimes wrong ones: every byte value, so ids may look like tags.
TRACE_IDS = st.one_of(st.binary(min_size=16, max_size=16), st.binary(min_size=16, max_size=16), st.just(b""),
                      st.binary(min_size=1, max_size=40))
SPAN_IDS = st.one_of(st.binary(min_size=8, max_size=8), st.binary(min_size=8, max_size=8), st.just(b""),
                     st.binary(min_size=1, max_size=20))


@st.composite
def trace_requests(draw) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    for _ in range(draw(st.integers(0, 3))):
        resource_spans = request.resource_spans.add(schema_url=draw(st.sampled_from(["", "https://x/1"])))
        for _ in range(draw(st.integers(0, 3))):
            scope_spans = resource_spans.scope_spans.add()
            scope_spans.scope.name = draw(st.text(max_size=5))
            for _ in range(draw(st.integers(0, 6))):
                span = scope_spans.spans.add(trace_id=draw(TRACE_IDS), span_id=draw(SPAN_IDS),
                                             parent_span_id=draw(SPAN_IDS), name=draw(st.text(max_size=8)),
                                             trace_state=draw(st.sampled_from(["", "k=v"])))
                for _ in range(draw(st.integers(0, 2)) if draw(st.integers(0, 3)) == 0 else 0):
                    span.links.add(trace_id=draw(TRACE_IDS), span_id=draw(SPAN_IDS))
                if draw(st.booleans()):
                    span.events.add(name="e", time_unix_nano=draw(st.integers(0, 2**64 - 1)))
    return request


@st.composite
def logs_requests(draw) -> ExportLogsServiceRequest:
    request = ExportLogsServiceRequest()
    for _ in range(draw(st.integers(0, 3))):
        resource_logs = request.resource_logs.add()
        for _ in range(draw(st.integers(0, 3))):
            scope_logs = resource_logs.scope_logs.add()
            for _ in range(draw(st.integers(0, 6))):
                record = scope_logs.log_records.add(trace_id=draw(TRACE_IDS), span_id=draw(SPAN_IDS),
                                                    severity_number=draw(st.integers(0, 24)))
                record.body.string_value = draw(st.text(max_size=10))
    return request


def _accepted(request) -> bool:
    try:
        check_ids(request)
    except MalformedPayload:
        return False
    return True


def _has_links(request: ExportTraceServiceRequest) -> bool:
    return any(span.links for r in request.resource_spans for s in r.scope_spans for span in s.spans)


@settings(max_examples=400, deadline=None)
@given(request=trace_requests())
def test_spans_pass_in_c_exactly_when_every_id_has_its_length(request):
    body = request.SerializeToString()
    fast = have_otlp_lengths("traces", body)
    if fast:
        assert _accepted(request)  # never a wrong length let through
    if not _has_links(request):
        assert fast == _accepted(request)
    try:
        decoded = decode(body, PROTOBUF, ExportTraceServiceRequest)
    except MalformedPayload as exc:
        assert not _accepted(request) and "must be" in str(exc)
    else:
        assert _accepted(request) and decoded == request


@settings(max_examples=300, deadline=None)
@given(request=logs_requests())
def test_log_records_pass_in_c_exactly_when_every_id_has_its_length(request):
    body = request.SerializeToString()
    assert have_otlp_lengths("logs", body) == _accepted(request)
    if not _accepted(request):
        with pytest.raises(MalformedPayload, match="log record"):
            decode(body, PROTOBUF, ExportLogsServiceRequest)


def test_metrics_have_no_ids_to_check():
    assert have_otlp_lengths("metrics", ExportMetricsServiceRequest().SerializeToString())


def test_a_span_id_that_looks_like_the_next_span_is_still_refused():
    """A 10-byte span id whose bytes spell a span id field: matched by position, not by appearance."""
    request = ExportTraceServiceRequest()
    spans = request.resource_spans.add().scope_spans.add().spans
    spans.add(trace_id=bytes(16), span_id=b"\x12\x08" + bytes(8))
    spans.add(trace_id=bytes(16), span_id=bytes(8))
    assert not have_otlp_lengths("traces", request.SerializeToString())
    with pytest.raises(MalformedPayload, match="span id must be 8 bytes"):
        decode(request.SerializeToString(), PROTOBUF, ExportTraceServiceRequest)
