"""rosbags field definitions -> Cyclone DDS Python types with ROS 2's DDS type names.

Why real struct types rather than opaque bytes: Cyclone checks every sample against its type
when writing and reading, and ROS 2 peers match endpoints by the type name
`pkg::msg::dds_::Type_`. So each ROS type gets an `IdlStruct` with the exact CDR layout; the
bytes themselves still come from rosbags (`serialize` / `deserialize` are overridden to pass raw
CDR through), so both transports and bags share one serialisation.
"""

from __future__ import annotations

import types as pytypes
from typing import Any

from cyclonedds.idl import IdlStruct
from cyclonedds.idl import types as t
from rosbags.interfaces import Nodetype
from rosbags.typesys.store import Typestore

_BASE = {
    "bool": bool,
    "byte": t.uint8,
    "char": t.uint8,
    "int8": t.int8,
    "uint8": t.uint8,
    "int16": t.int16,
    "uint16": t.uint16,
    "int32": t.int32,
    "uint32": t.uint32,
    "int64": t.int64,
    "uint64": t.uint64,
    "float32": t.float32,
    "float64": t.float64,
}


def dds_type_name(msgtype: str) -> str:
    """`sensor_msgs/msg/Image` -> `sensor_msgs::msg::dds_::Image_` (rmw's mangling)."""
    pkg, kind, name = msgtype.split("/")
    return f"{pkg}::{kind}::dds_::{name}_"


class RawSample:
    """What a reader hands back: the sample's CDR bytes (header included, padding removed)."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.sample_info: Any = None


def strip_padding(data: bytes) -> bytes:
    """Undo `pad_to_4`: drop the pad bytes the encapsulation options announce (XTypes 7.6.3.1.2)
    and clear that count, giving back exactly what the sender serialised."""
    if len(data) < 4 or not data[3] & 0x3:
        return data
    pad = data[3] & 0x3
    body = data[4:] if len(data) - 4 < pad else data[4 : len(data) - pad]
    return data[:3] + bytes([data[3] & ~0x3 & 0xFF]) + body


def pad_to_4(cdr: bytes) -> bytes:
    """Pad to a multiple of 4 and record the pad count in the options, as rmw_cyclonedds does."""
    pad = -len(cdr) % 4
    if not pad:
        return cdr
    return cdr[:3] + bytes([cdr[3] | pad]) + cdr[4:] + b"\0" * pad


class TypeFactory:
    """Builds (and caches) one DDS struct class per ROS message type of a typestore."""

    def __init__(self, typestore: Typestore) -> None:
        self.typestore = typestore
        self._structs: dict[str, type] = {}

    def struct(self, msgtype: str) -> type:
        """The class to create a `Topic` with: raw CDR in (`outgoing`), `RawSample` out."""
        if msgtype not in self._structs:
            self._structs[msgtype] = self._build(msgtype)
        return self._structs[msgtype]

    def _field_type(self, desc: tuple[Nodetype, Any]) -> Any:
        node, detail = desc
        if node == Nodetype.BASE:
            name, bound = detail
            if name == "string":
                return t.bounded_str[bound] if bound else str  # type: ignore[misc]
            if name not in _BASE:
                raise TypeError(f"ROS base type {name!r} has no DDS mapping here")
            return _BASE[name]
        if node == Nodetype.NAME:
            return self.struct(detail)
        inner, size = detail
        if node == Nodetype.ARRAY:
            return t.array[self._field_type(inner), size]  # type: ignore[misc]
        if size:
            return t.sequence[self._field_type(inner), size]  # type: ignore[misc]
        return t.sequence[self._field_type(inner)]  # type: ignore[misc]

    def _build(self, msgtype: str) -> type:
        if msgtype not in self.typestore.fielddefs:
            raise KeyError(f"message type {msgtype!r} is not in the typestore")
        _, fields = self.typestore.fielddefs[msgtype]
        annotations = {name: self._field_type(desc) for name, desc in fields}

        def body(ns: dict[str, Any]) -> None:
            ns["__annotations__"] = annotations
            ns["serialize"] = _serialize_raw
            ns["deserialize"] = classmethod(_deserialize_raw)
            ns["deserialize_key"] = classmethod(_deserialize_raw)

        class_name = msgtype.replace("/", "__")
        return pytypes.new_class(class_name, (IdlStruct,), {"typename": dds_type_name(msgtype)}, body)


def _serialize_raw(self: Any, **_: Any) -> bytes:
    return self.cdr


def _deserialize_raw(cls: type, /, data: Any, **_: Any) -> RawSample:
    return RawSample(strip_padding(bytes(data)))


def outgoing(struct: type, cdr: bytes) -> Any:
    """An instance of `struct` that a DataWriter accepts and that serialises to `cdr`."""
    sample: Any = object.__new__(struct)  # no __init__: the sample only carries its CDR
    sample.cdr = pad_to_4(cdr)
    return sample
