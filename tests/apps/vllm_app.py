"""Offline vLLM on the CPU under our instrumentation; writes the finished spans as JSON to ``argv[1]``.

Run in its own process (vLLM's import configures torch, logging and
multiprocessing for the whole interpreter) with ``tests/`` on ``PYTHONPATH``
and ``VLLM_ENABLE_V1_MULTIPROCESSING=0`` (the engine runs in this process, so
the energy window measures it).  The model is a one-layer Llama with random
weights and a word-level vocabulary (``t0`` … ``t499``), written here: no
download.
"""

from __future__ import annotations

import json
import sys
import tempfile

import torch
import transformers
from instrumented import host_metered, instrumented
from tokenizers import Tokenizer, models, pre_tokenizers

from otel_carbon.instrumentations.vllm import VLLMInstrumentor

VOCAB = 500


def write_tiny_llama(directory: str) -> str:
    backend = Tokenizer(models.WordLevel(vocab={f"t{i}": i for i in range(VOCAB)}, unk_token="t0"))
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tokenizer = transformers.PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="t0", bos_token="t1",
                                                     eos_token="t2", pad_token="t0")
    tokenizer.chat_template = "{% for m in messages %}{{ m['content'] }} {% endfor %}"
    tokenizer.save_pretrained(directory)
    torch.manual_seed(0)
    config = transformers.LlamaConfig(vocab_size=VOCAB, hidden_size=64, intermediate_size=128, num_hidden_layers=1,
                                      num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=256,
                                      bos_token_id=1, eos_token_id=2)
    transformers.LlamaForCausalLM(config).save_pretrained(directory)
    return directory


# On the CPU backend this is the share of the host's memory reserved for the KV cache; vLLM refuses to
# start when less than that is free, and a one-layer model needs a sliver of it (the default, 0.92,
# fails on any machine that is doing something else).
KV_CACHE_SHARE = 0.1


def main(out_path: str) -> None:
    import vllm

    with tempfile.TemporaryDirectory() as directory:
        llm = vllm.LLM(model=write_tiny_llama(directory), dtype="float32", max_model_len=64, enforce_eager=True,
                       seed=0, max_num_seqs=4, gpu_memory_utilization=KV_CACHE_SHARE)
        params = vllm.SamplingParams(max_tokens=5, temperature=0.0, ignore_eos=True)
        with host_metered() as meter, instrumented(VLLMInstrumentor()) as exporter:
            llm.generate(["t5 t6 t7", "t8"], params)
            llm.chat([{"role": "user", "content": "t5 t6"}], params)
            try:
                llm.generate(" ".join(["t9"] * 100), params)  # longer than max_model_len
            except Exception as error:  # noqa: BLE001 - the test checks the span recorded it
                print("expected failure:", type(error).__name__)
            del llm
            embedder = vllm.LLM(model=directory, dtype="float32", max_model_len=64, enforce_eager=True,
                                runner="pooling", gpu_memory_utilization=KV_CACHE_SHARE)
            embedder.embed(["t5 t6", "t7"])
            open_windows = meter.open_windows
        spans = [{"name": s.name, "kind": s.kind.name, "status": s.status.status_code.name,
                  "attributes": dict(s.attributes)} for s in exporter.get_finished_spans()]
    with open(out_path, "w") as out:
        json.dump({"spans": spans, "open_windows": open_windows}, out, default=list)


if __name__ == "__main__":
    main(sys.argv[1])
