"""The shared span lifecycle: instrumentation suppression, and failures logged once per SDK."""

from __future__ import annotations

import logging

import openai
from instrumented import instrumented
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.trace import NoOpTracer

from otel_carbon.instrumentations._shared.wrappers import sync_wrapper
from otel_carbon.instrumentations.openai import OpenAIInstrumentor


def test_a_call_under_suppress_instrumentation_gets_no_span(llm_server):
    with instrumented(OpenAIInstrumentor()) as exporter:
        client = openai.OpenAI(base_url=llm_server.url, api_key="sk-x", max_retries=0)
        with suppress_instrumentation():
            client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
        assert exporter.get_finished_spans() == ()
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
        assert len(exporter.get_finished_spans()) == 1


def _broken_start_in(module: str):
    def start(instance, args, kwargs):
        raise ValueError("unreadable request")

    start.__module__ = module
    return start


def test_a_failing_extractor_is_logged_once_per_sdk_not_once_for_all(caplog):
    wrappers = [sync_wrapper(NoOpTracer(), _broken_start_in(f"tests.fake_{sdk}.extract"), lambda result: None)
                for sdk in ("alpha", "beta")]
    with caplog.at_level(logging.WARNING):
        for _ in range(3):
            for wrapper in wrappers:
                assert wrapper(lambda: "result", None, (), {}) == "result"  # the call proceeds
    logged = [r.getMessage() for r in caplog.records if "could not open a GenAI span" in r.getMessage()]
    assert len(logged) == 2 and any("fake_alpha" in m for m in logged) and any("fake_beta" in m for m in logged)
