"""The transformers versions this instrumentation supports."""

_instruments = ("transformers >= 4.40",)
