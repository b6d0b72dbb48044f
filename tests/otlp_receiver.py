"""A real OTLP/gRPC receiver for tests: TraceService and MetricsService on a loopback port."""

from __future__ import annotations

import threading
from concurrent import futures
from typing import Any

import grpc
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2, metrics_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.common.v1.common_pb2 import AnyValue


def any_value(value: AnyValue) -> Any:
    """The Python value of an OTLP ``AnyValue``."""
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return tuple(any_value(v) for v in value.array_value.values)
    return getattr(value, kind) if kind else None


class OTLPReceiver(trace_service_pb2_grpc.TraceServiceServicer, metrics_service_pb2_grpc.MetricsServiceServicer):
    """Collects exported spans (as name + attribute dicts), metric names and each call's metadata;
    over TLS when given server ``credentials``."""

    def __init__(self, port: int = 0, credentials: grpc.ServerCredentials | None = None) -> None:
        self.spans: list[tuple[str, dict[str, Any]]] = []
        self.span_ids: list[bytes] = []
        self.metric_names: set[str] = set()
        #: Data points of the latest export, by metric name (cumulative totals: the last export holds them all).
        self.metric_points: dict[str, list[Any]] = {}
        self.metadata: list[dict[str, str]] = []
        self.received = threading.Condition()
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(self, self._server)
        metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(self, self._server)
        address = f"127.0.0.1:{port}"
        self.port = (self._server.add_secure_port(address, credentials) if credentials
                     else self._server.add_insecure_port(address))

    def Export(self, request: Any, context: Any) -> Any:  # noqa: N802 - gRPC method name
        with self.received:
            self.metadata.append(dict(context.invocation_metadata()))
            if isinstance(request, trace_service_pb2.ExportTraceServiceRequest):
                for rs in request.resource_spans:
                    for ss in rs.scope_spans:
                        for span in ss.spans:
                            self.spans.append((span.name, {a.key: any_value(a.value) for a in span.attributes}))
                            self.span_ids.append(span.span_id)
                self.received.notify_all()
                return trace_service_pb2.ExportTraceServiceResponse()
            for rm in request.resource_metrics:
                for sm in rm.scope_metrics:
                    for metric in sm.metrics:
                        self.metric_names.add(metric.name)
                        data = getattr(metric, metric.WhichOneof("data"))
                        self.metric_points[metric.name] = list(data.data_points)
            self.received.notify_all()
            return metrics_service_pb2.ExportMetricsServiceResponse()

    def __enter__(self) -> OTLPReceiver:
        self._server.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._server.stop(grace=None)
