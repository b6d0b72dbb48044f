"""Reading SDK response objects, dicts and garbage alike, without raising.

Extractors read responses through these two functions so that a field a
server leaves out, renames or fills with garbage yields ``None`` rather than an
error.  ``dict`` is tested by type (not ``typing.Mapping``, whose ABC check
costs microseconds on every field of every call).
"""

from __future__ import annotations

from typing import Any


def get_path(obj: Any, *path: str) -> Any:
    """``obj.a.b`` / ``obj["a"]["b"]`` for ``path = ("a", "b")``; ``None`` where a step is missing."""
    for name in path:
        if obj is None:
            return None
        obj = obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)
    return obj


def count(value: Any) -> int | None:
    """``value`` as a token count: a non-negative ``int`` (not a ``bool``), or a whole ``float``
    (some SDKs type counts as JSON numbers: ``5.0``); anything else is ``None``."""
    if type(value) is float and value.is_integer():
        value = int(value)
    return value if type(value) is int and value >= 0 else None
