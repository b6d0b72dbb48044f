"""The cohere versions this instrumentation supports (v2 ``embed`` appeared in 5.10)."""

_instruments = ("cohere >= 5.10.0",)
