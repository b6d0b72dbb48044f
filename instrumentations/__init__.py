"""Auto-instrumentation of LLM SDKs: one subpackage per SDK, ``_shared`` for span lifecycle and streams.

Each subpackage is a small ``BaseInstrumentor`` registered under the
``opentelemetry_instrumentor`` entry point, so ``opentelemetry-instrument`` finds it.
Instrumentations import the OpenTelemetry API only, never the SDK.
"""
