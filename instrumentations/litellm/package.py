"""The litellm versions this instrumentation supports."""

_instruments = ("litellm >= 1.40.0",)
