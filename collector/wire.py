"""OTLP attribute values ↔ Python values, and span attributes written straight as protobuf bytes."""

from __future__ import annotations

import struct
from collections.abc import Iterable, Mapping
from functools import lru_cache
from itertools import chain, islice
from typing import Any

from opentelemetry.proto.common.v1.common_pb2 import AnyValue

_DOUBLE = struct.Struct("<d")
_MAX_CACHED = 4096


def python_value(value: AnyValue) -> Any:
    """The Python value of an ``AnyValue`` (arrays as tuples, key-value lists as dicts)."""
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return tuple(python_value(v) for v in value.array_value.values)
    if kind == "kvlist_value":
        return {kv.key: python_value(kv.value) for kv in value.kvlist_value.values}
    return getattr(value, kind) if kind else None


def any_value(value: Any) -> AnyValue:
    """An ``AnyValue`` for the attribute types enrichment writes (bool, int, float, str, sequences)."""
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int):
        return AnyValue(int_value=value)
    if isinstance(value, float):
        return AnyValue(double_value=value)
    if isinstance(value, (list, tuple)):
        result = AnyValue()
        result.array_value.values.extend(any_value(v) for v in value)
        return result
    return AnyValue(string_value=str(value))


# Span.attributes is field 9 (length-delimited); KeyValue: key 1, value 2; AnyValue: string 1,
# bool 2, int 3, double 4 (fixed64), array 5; ArrayValue.values 1.
_SPAN_ATTRIBUTE = b"\x4a"


def _varint(number: int) -> bytes:
    number &= 0xFFFFFFFFFFFFFFFF  # int64 two's complement, as protobuf writes negative ints
    out = bytearray()
    while number > 0x7F:
        out.append((number & 0x7F) | 0x80)
        number >>= 7
    out.append(number)
    return bytes(out)


def _delimited(tag: bytes, payload: bytes) -> bytes:
    return tag + _varint(len(payload)) + payload


def _any_value_wire(value: Any) -> bytes:
    if isinstance(value, bool):
        return b"\x10\x01" if value else b"\x10\x00"
    if isinstance(value, int):
        return b"\x18" + _varint(value)
    if isinstance(value, float):
        return b"\x21" + _DOUBLE.pack(value)
    if isinstance(value, (list, tuple)):
        return _delimited(b"\x2a", b"".join(_delimited(b"\x0a", _any_value_wire(v)) for v in value))
    return _delimited(b"\x0a", str(value).encode())


@lru_cache(maxsize=_MAX_CACHED)
def _key_wire(key: str) -> bytes:
    return _delimited(b"\x0a", key.encode())


@lru_cache(maxsize=_MAX_CACHED)
def _constant_attribute_wire(key: str, value: str | bool) -> bytes:
    return _attribute_wire(key, value)


def _attribute_wire(key: str, value: Any) -> bytes:
    return _delimited(_SPAN_ATTRIBUTE, _key_wire(key) + _delimited(b"\x12", _any_value_wire(value)))


@lru_cache(maxsize=_MAX_CACHED)
def double_prefix(key: str) -> bytes:
    """Everything of a double attribute's entry before its 8 value bytes (a double's AnyValue is 9 bytes)."""
    return _attribute_wire(key, 0.0)[:-8]


def attributes_wire(attributes: Mapping[str, Any], shared: Mapping[str, Any] | None = None) -> bytes:
    """``attributes`` as the protobuf bytes of ``Span.attributes`` entries.

    ``span.MergeFromString(attributes_wire(extra))`` appends them to a decoded span in one
    C call — the same result as ``span.attributes.extend(KeyValue(...))``, without building
    a message per attribute.  Strings and booleans (zone, method, status…) are encoded once per
    value, doubles from a per-key prefix and their 8 bytes.  ``shared``: the first entries of
    ``attributes`` when they are an object reused from call to call (``CallCarbon.shared``):
    encoded once per object, and the float entries after them packed in one call.
    """
    if shared:  # the entries after the shared ones are floats (CallCarbon's contract)
        packer, prefixes = _doubles_packer(tuple(islice(attributes, len(shared), None)))
        values = islice(attributes.values(), len(shared), None)
        return shared_wire(shared) + packer.pack(*chain.from_iterable(zip(prefixes, values)))
    return _entries_wire(attributes.items())


def _entries_wire(items: Iterable[tuple[str, Any]]) -> bytes:
    parts = []
    for key, value in items:
        kind = type(value)
        if kind is float:
            parts.append(double_prefix(key) + _DOUBLE.pack(value))
        elif kind is str or kind is bool:
            parts.append(_constant_attribute_wire(key, value))
        else:
            parts.append(_attribute_wire(key, value))
    return b"".join(parts)


_shared_encoded: dict[int, tuple[Mapping[str, Any], bytes]] = {}


def shared_wire(shared: Mapping[str, Any]) -> bytes:
    """The encoding of a reused attribute mapping, kept while the mapping lives (bounded)."""
    found = _shared_encoded.get(id(shared))
    if found is not None and found[0] is shared:
        return found[1]
    encoded = _entries_wire(shared.items())
    if len(_shared_encoded) >= _MAX_CACHED:
        _shared_encoded.clear()
    _shared_encoded[id(shared)] = (shared, encoded)  # holding the mapping keeps its id from being reused
    return encoded


@lru_cache(maxsize=_MAX_CACHED)
def _doubles_packer(keys: tuple[str, ...]) -> tuple[struct.Struct, tuple[bytes, ...]]:
    """A struct that writes double attributes ``keys`` (prefix, value, prefix, value…) in one call."""
    prefixes = tuple(double_prefix(key) for key in keys)
    return struct.Struct("<" + "".join(f"{len(prefix)}sd" for prefix in prefixes)), prefixes
