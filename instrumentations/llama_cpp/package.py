"""The llama-cpp-python versions this instrumentation supports."""

_instruments = ("llama-cpp-python >= 0.2.50",)
