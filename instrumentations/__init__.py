"""Auto-instrumentation of LLM SDKs: one subpackage per SDK, ``_shared`` for span lifecycle and streams.

Each subpackage is a small ``BaseInstrumentor`` registered under the
``opentelemetry_instrumentor`` entry point, so ``opentelemetry-instrument`` finds it.
Instrumentations import the OpenTelemetry API only, never the SDK.

Every SDK subpackage has the same four modules, each with one job:

* ``__init__.py`` — the instrumentor (``<Sdk>Instrumentor``, the entry point's
  target) and, in its docstring, what is covered.  Its ``_patch`` / ``_unpatch``
  apply and undo the table of ``patch.py``; it holds no table of its own.
* ``package.py`` — ``_instruments``: the SDK versions supported (read by
  ``instrumentation_dependencies``, as in OpenTelemetry's contrib packages).
* ``patch.py`` — what is wrapped: the table of wrapped modules, classes and
  methods (or functions) with the extractors each one uses, the ``start_for``
  factories of the request extractor, and any wrapper or stream proxy this
  SDK needs beyond the shared ones (Anthropic's ``messages.stream()`` helper,
  Bedrock's ``_make_api_call`` dispatch, transformers' pipeline scope).
* ``extract.py`` — pure functions from a call and its result to span facts
  (``Request``, ``Response``, stream accumulators): no wrapping, no tracer.

An SDK package imports ``_shared`` and its own modules, never another SDK
package.  What several SDKs share lives in ``_shared``: the OpenAI-compatible
payload readers that OpenAI, LiteLLM and Mistral AI use are
:mod:`._shared.openai_compatible`.  ``custom`` is no SDK instrumentation: it is
the context manager that traces a call of an SDK we do not cover.
"""
