"""The openai versions this instrumentation supports."""

_instruments = ("openai >= 1.40.0",)
