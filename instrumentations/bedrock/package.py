"""The botocore versions this instrumentation supports (the Converse API arrived in 1.34.116)."""

_instruments = ("botocore >= 1.34.116",)
