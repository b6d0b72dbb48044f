"""transformers instrumentation: a real tiny GPT-2 (built from a config, no download) on the CPU.

``generate()`` and the text-generation pipeline run for real under the
instrumentation, with the real meter on this host as the process meter; the
spans go through the carbon span processor to an in-memory exporter.
"""

from __future__ import annotations

import threading

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from instrumented import host_metered, instrumented
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from tokenizers import Tokenizer, models, pre_tokenizers

from otel_carbon import semconv as sc
from otel_carbon.instrumentations.transformers import TransformersInstrumentor

PAD = 999  # never generated (bad_words_ids), so every new id counts
NEW = 12


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    config = transformers.GPT2Config(n_layer=2, n_embd=64, n_head=2, vocab_size=1000, n_positions=256,
                                     bos_token_id=1, eos_token_id=2)
    return transformers.GPT2LMHeadModel(config).eval()


@pytest.fixture(scope="module")
def tokenizer():
    vocab = {f"t{i}": i for i in range(PAD)}
    vocab["[PAD]"] = PAD
    backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[PAD]"))
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok = transformers.PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="[PAD]", pad_token="[PAD]",
                                               eos_token="t2", bos_token="t1")
    tok.chat_template = "{% for m in messages %}{{ m['content'] }} {% endfor %}"
    return tok


@pytest.fixture()
def traced():
    with host_metered() as meter, instrumented(TransformersInstrumentor()) as exporter:
        yield exporter, meter


GEN = {"max_new_tokens": NEW, "min_new_tokens": NEW, "do_sample": False, "bad_words_ids": [[PAD]],
       "pad_token_id": PAD}


def test_generate_is_an_internal_span_with_tokens_and_measured_energy(traced, model) -> None:
    exporter, meter = traced
    prompt = torch.randint(3, 900, (2, 9))
    mask = torch.ones_like(prompt)
    mask[1, :3] = 0  # left padding on the second row: 3 ids that are not input
    with torch.no_grad():
        output = model.generate(prompt, attention_mask=mask, **GEN)
    assert output.shape == (2, 9 + NEW)
    (span,) = exporter.get_finished_spans()
    attributes = span.attributes
    assert span.kind is SpanKind.INTERNAL
    assert span.name == "text_completion gpt2"
    assert attributes[sc.GEN_AI_PROVIDER_NAME] == "transformers"
    assert attributes[sc.GEN_AI_REQUEST_MODEL] == "gpt2"
    assert attributes[sc.GEN_AI_REQUEST_MAX_TOKENS] == NEW
    assert attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == 2 * 9 - 3
    assert attributes[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 2 * NEW
    assert attributes[sc.SCI_MEASURED_HOST] > 0
    assert attributes[sc.SCI_MEASURED_DURATION] > 0
    assert attributes[sc.SCI_ENERGY_METHOD] == "measured"
    assert attributes[sc.SCI_ENERGY_HOST] == pytest.approx(attributes[sc.SCI_MEASURED_HOST])
    assert meter.open_windows == 0


def test_pipeline_is_one_span_counting_its_inner_generate(traced, model, tokenizer) -> None:
    exporter, _ = traced
    pipe = transformers.pipeline("text-generation", model=model, tokenizer=tokenizer, device=-1)
    result = pipe("t5 t6 t7 t8", **GEN)
    assert result[0]["generated_text"].startswith("t5 t6 t7 t8")
    (span,) = exporter.get_finished_spans()  # no child span for the generate() inside
    assert span.kind is SpanKind.INTERNAL
    assert span.name == "text_completion gpt2"
    assert span.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == 4
    assert span.attributes[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == NEW
    assert span.attributes[sc.SCI_MEASURED_HOST] > 0


def test_chat_pipeline_operation(traced, model, tokenizer) -> None:
    exporter, _ = traced
    pipe = transformers.pipeline("text-generation", model=model, tokenizer=tokenizer, device=-1)
    pipe([{"role": "user", "content": "t5 t6"}], **GEN)
    (span,) = exporter.get_finished_spans()
    assert span.attributes[sc.GEN_AI_OPERATION_NAME] == "chat"
    assert span.name == "chat gpt2"
    assert span.attributes[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == NEW


def test_failed_generate_records_the_error_and_closes_the_window(traced, model) -> None:
    exporter, meter = traced
    with pytest.raises(ValueError):
        model.generate(torch.randint(3, 900, (1, 4)), max_new_tokens=-1)
    (span,) = exporter.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[sc.ERROR_TYPE] == "ValueError"
    assert meter.open_windows == 0


def test_concurrent_generations_share_the_host_energy(traced, model) -> None:
    exporter, meter = traced
    barrier = threading.Barrier(3)

    def run() -> None:
        barrier.wait()
        with torch.no_grad():
            model.generate(torch.randint(3, 900, (1, 8)), **GEN)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    spans = exporter.get_finished_spans()
    assert len(spans) == 3
    assert all(s.attributes[sc.SCI_MEASURED_HOST] > 0 for s in spans)
    assert all(0 < s.attributes[sc.SCI_MEASURED_SHARE] <= 1 for s in spans)
    assert meter.open_windows == 0


def test_uninstrument_restores_generate(model) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    instrumentor = TransformersInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    instrumentor.uninstrument()
    with torch.no_grad():
        model.generate(torch.randint(3, 900, (1, 4)), **GEN)
    assert exporter.get_finished_spans() == ()
