"""The mistralai versions this instrumentation supports (v2 moved the client to ``mistralai.client``)."""

_instruments = ("mistralai >= 2.0.0",)
