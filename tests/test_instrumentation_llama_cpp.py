"""The real llama.cpp (``llama-cpp-python``) running a tiny GGUF model, under our instrumentation."""

from __future__ import annotations

import pytest
from instrumented import host_metered, instrumented
from opentelemetry.trace import SpanKind, StatusCode

from otel_carbon import semconv as sc

llama_cpp = pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed (pip install llama-cpp-python)")
pytest.importorskip("gguf", reason="the gguf writer is not installed (pip install gguf)")

from models.tiny_gguf import write_tiny_llama  # noqa: E402

from otel_carbon.instrumentations.llama_cpp import LlamaCppInstrumentor  # noqa: E402

MAX_TOKENS = 6


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    return str(write_tiny_llama(tmp_path_factory.mktemp("gguf") / "tiny-llama.gguf"))


@pytest.fixture(scope="module")
def llama(model_path):
    return llama_cpp.Llama(model_path=model_path, n_ctx=256, verbose=False, seed=1)


@pytest.fixture
def traced():
    with host_metered() as meter, instrumented(LlamaCppInstrumentor()) as exporter:
        yield exporter, meter


GREEDY = {"max_tokens": MAX_TOKENS, "temperature": 0.0}


def assert_measured(span):
    assert span.kind is SpanKind.INTERNAL
    assert span.attributes[sc.GEN_AI_PROVIDER_NAME] == "llama_cpp"
    assert span.attributes[sc.SCI_ENERGY_METHOD] == "measured"
    assert span.attributes[sc.SCI_MEASURED_HOST] > 0
    assert span.attributes[sc.SCI_CARBON] > 0


def test_completion_tokens_as_llama_cpp_counted_them(traced, llama):
    exporter, meter = traced
    prompt = "hello carbon"
    result = llama("hello carbon", **GREEDY)  # __call__ runs create_completion: one span
    (span,) = exporter.get_finished_spans()
    attrs = span.attributes
    assert_measured(span)
    assert span.name == "text_completion tiny-llama"
    assert attrs[sc.GEN_AI_REQUEST_MODEL] == "tiny-llama"
    assert attrs[sc.GEN_AI_REQUEST_MAX_TOKENS] == MAX_TOKENS
    # the tokenizer's own count of the prompt (with BOS), and greedy decoding never picks EOS
    assert attrs[sc.GEN_AI_USAGE_INPUT_TOKENS] == len(llama.tokenize(prompt.encode())) == result["usage"]["prompt_tokens"]
    assert attrs[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == MAX_TOKENS
    assert attrs[sc.GEN_AI_RESPONSE_FINISH_REASONS] == ("length",)
    assert meter.open_windows == 0


def test_chat_completion_is_one_span(traced, llama):
    exporter, _ = traced
    result = llama.create_chat_completion(messages=[{"role": "user", "content": "hi"}], **GREEDY)
    (span,) = exporter.get_finished_spans()  # the completion the chat handler runs is not traced again
    assert_measured(span)
    assert span.attributes[sc.GEN_AI_OPERATION_NAME] == "chat"
    # llama.cpp's own counts (the chat template adds to the prompt; byte-fallback output may exceed max_tokens)
    assert span.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == result["usage"]["prompt_tokens"] > len("hi")
    assert span.attributes[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == result["usage"]["completion_tokens"] > 0


def test_embedding(traced, model_path):
    exporter, _ = traced
    embedder = llama_cpp.Llama(model_path=model_path, n_ctx=256, embedding=True, verbose=False)
    result = embedder.create_embedding("carbon")
    (span,) = exporter.get_finished_spans()
    assert_measured(span)
    assert span.attributes[sc.GEN_AI_OPERATION_NAME] == "embeddings"
    assert span.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == result["usage"]["prompt_tokens"] == len(embedder.tokenize(b"carbon"))


def test_stream_drained_and_left_early(traced, llama):
    exporter, meter = traced
    chunks = list(llama.create_completion("abc", stream=True, **GREEDY))
    texts = sum(1 for c in chunks if c["choices"][0]["text"])
    early = llama.create_completion("abc", stream=True, **GREEDY)
    next(early)
    early.close()
    drained, left = exporter.get_finished_spans()
    assert_measured(drained)
    assert drained.attributes[sc.GEN_AI_REQUEST_STREAM] is True
    assert drained.attributes[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == texts
    assert drained.attributes[sc.GEN_AI_RESPONSE_FINISH_REASONS] == ("length",)
    assert left.end_time is not None and left.status.status_code is not StatusCode.ERROR
    assert meter.open_windows == 0


def test_error_is_recorded_and_re_raised(traced, llama):
    exporter, meter = traced
    with pytest.raises(ValueError):
        llama.create_completion("x" * 2000, max_tokens=4)  # longer than the context window
    (span,) = exporter.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[sc.ERROR_TYPE] == "ValueError"
    assert meter.open_windows == 0


def test_uninstrument_restores_the_originals():
    originals = {name: getattr(llama_cpp.Llama, name) for name in ("create_completion", "create_chat_completion", "create_embedding")}
    instrumentor = LlamaCppInstrumentor()
    instrumentor.instrument()
    assert all(getattr(llama_cpp.Llama, name) is not fn for name, fn in originals.items())
    instrumentor.uninstrument()
    assert all(getattr(llama_cpp.Llama, name) is fn for name, fn in originals.items())
