"""The otel-carbon OTLP gateway: receive spans from services in any language, enrich, forward.

GenAI spans that arrive without carbon leave with the same ``sci.*``
attributes the in-process span processor would give them (both call
:func:`otel_carbon.processors.enrich.carbon_attributes`); other spans, and
spans that already carry carbon, pass unchanged.  This first slice receives
OTLP/gRPC traces (metrics and logs are relayed as they are) and forwards to an
OTLP/gRPC upstream.
"""
