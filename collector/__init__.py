"""The otel-carbon OTLP gateway: receive spans from services in any language, enrich, forward.

GenAI spans that arrive without carbon leave with the same ``sci.*``
attributes the in-process span processor would give them (both call
:func:`otel_carbon.processors.enrich.carbon_attributes`); other spans, and
spans that already carry carbon, pass unchanged.  OTLP/gRPC and OTLP/HTTP
(protobuf and JSON, on aiohttp) in; OTLP/gRPC or OTLP/HTTP out (TLS/mTLS,
headers) with a persistent retry queue; carbon and health metrics on a
Prometheus endpoint and upstream; bearer token and TLS/mTLS on the receivers.  Also: a processor for the rotel collector
(:mod:`.rotel_processor`) and OTTL statements for otelcol-contrib (:mod:`.ottl`).
"""
