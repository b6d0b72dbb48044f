"""Views: message types that read an OTLP request only as far as the gateway needs, in C.

A view declares some fields of an OTLP message with their numbers and wire types, and leaves
the rest out (kept as unknown fields, or dropped with ``DiscardUnknownFields``).  A
length-delimited field may be declared ``bytes`` whatever it holds (a span, a resource, a
``KeyValue``): parsing then stops at its bytes, and writing the view back writes them as they
came.  Each set of views lives in a descriptor pool of its own, so nothing clashes with the
real OTLP types.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import Message

_LABELS = descriptor_pb2.FieldDescriptorProto
#: Field kinds: (label, type) of a singular or repeated bytes field and of a singular fixed64 field.
_SCALARS = {
    "bytes": (_LABELS.LABEL_OPTIONAL, _LABELS.TYPE_BYTES),
    "repeated bytes": (_LABELS.LABEL_REPEATED, _LABELS.TYPE_BYTES),
    "fixed64": (_LABELS.LABEL_OPTIONAL, _LABELS.TYPE_FIXED64),
}

#: One field of a view: (name, number, kind); kind is ``bytes``, ``repeated bytes``, ``fixed64``, or
#: ``repeated <view>`` for a repeated message field of another view of the same set.
Field = tuple[str, int, str]


def message_types(package: str, views: Mapping[str, Sequence[Field]]) -> dict[str, type[Message]]:
    """The message types of ``views`` (view name → its fields), in package ``package``."""
    file = descriptor_pb2.FileDescriptorProto(name=f"{package.replace('.', '/')}.proto", package=package,
                                              syntax="proto3")
    for name, fields in views.items():
        message = file.message_type.add(name=name)
        for field_name, number, kind in fields:
            if kind in _SCALARS:
                label, wire_type = _SCALARS[kind]
                message.field.add(name=field_name, number=number, label=label, type=wire_type)
            else:
                element = kind.removeprefix("repeated ")
                if element not in views:
                    raise ValueError(f"{name}.{field_name}: unknown kind {kind!r}")
                message.field.add(name=field_name, number=number, label=_LABELS.LABEL_REPEATED,
                                  type=_LABELS.TYPE_MESSAGE, type_name=f".{package}.{element}")
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return {name: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{package}.{name}"))
            for name in views}
