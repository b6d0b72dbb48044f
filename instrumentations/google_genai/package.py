"""The google-genai versions this instrumentation supports."""

_instruments = ("google-genai >= 1.0.0",)
