"""The anthropic versions this instrumentation supports."""

_instruments = ("anthropic >= 0.40.0",)
