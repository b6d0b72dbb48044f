"""The ollama versions this instrumentation supports (``embed`` and typed responses arrived in 0.4)."""

_instruments = ("ollama >= 0.4.0",)
