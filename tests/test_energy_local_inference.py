"""A real model generating on this CPU under the real meter: the span carries measured host energy.

The model is a 2-layer GPT-2 built from a config (random weights, no download).
The host is read through the real ``/proc`` (and RAPL where this machine lets
us read it), sampled by the real background thread.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from otel_carbon import semconv as sc
from otel_carbon.config import CarbonSettings
from otel_carbon.energy.host import LOAD_CURVE
from otel_carbon.energy.install import build_devices
from otel_carbon.energy.measured import DeviceMeter
from otel_carbon.processors import CarbonSpanProcessor


def tiny_gpt2():
    torch.manual_seed(0)
    config = transformers.GPT2Config(n_layer=2, n_embd=64, n_head=2, vocab_size=1000, n_positions=256)
    return transformers.GPT2LMHeadModel(config).eval()


def test_cpu_generation_span_carries_measured_host_energy() -> None:
    settings = CarbonSettings(zone="FR")
    devices = [d for d in build_devices(settings, nvml=None) if d.info.role == "host"]
    assert devices, "this test needs a readable /proc"
    meter = DeviceMeter(devices, sample_hz=settings.energy_sample_hz)
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(CarbonSpanProcessor(SimpleSpanProcessor(exporter), settings=settings))
    tracer = provider.get_tracer("test")
    model = tiny_gpt2()
    prompt = torch.randint(0, 1000, (1, 16))
    try:
        with tracer.start_as_current_span("text_completion tiny-gpt2", kind=SpanKind.INTERNAL) as span:
            span.set_attributes({sc.GEN_AI_OPERATION_NAME: "text_completion", sc.GEN_AI_PROVIDER_NAME: "transformers",
                                 sc.GEN_AI_REQUEST_MODEL: "tiny-gpt2"})
            window = meter.start()
            with torch.no_grad():
                output = model.generate(prompt, max_new_tokens=48, min_new_tokens=48, do_sample=False,
                                        pad_token_id=0)
            new_tokens = int(output.shape[1] - prompt.shape[1])
            measurement = window.stop(tokens=new_tokens)
            assert measurement is not None
            span.set_attributes({sc.GEN_AI_USAGE_INPUT_TOKENS: 16, sc.GEN_AI_USAGE_OUTPUT_TOKENS: new_tokens})
            span.set_attributes(measurement.span_attributes())
    finally:
        meter.close()
    assert new_tokens == 48
    assert measurement.host_j is not None and measurement.host_j > 0
    assert measurement.source.split("+")[0] in ("rapl", "cpu_model")
    host = devices[0]
    if measurement.source.startswith("cpu_model"):
        # Physical bound of the model: the whole CPU at full load plus resident memory, for the window.
        ceiling = (host.tdp_w * LOAD_CURVE[-1][1] + 1000 * settings.energy_memory_w_per_gb) * measurement.duration_s
        assert measurement.host_j <= ceiling * 1.5
    exported = exporter.get_finished_spans()[-1]
    assert exported.attributes[sc.SCI_ENERGY_METHOD] == "measured"
    assert exported.attributes[sc.SCI_MEASURED_HOST] == pytest.approx(measurement.host_j)
    assert exported.attributes[sc.SCI_ENERGY_HOST] == pytest.approx(measurement.host_j)
    assert exported.attributes[sc.SCI_CARBON] > 0
