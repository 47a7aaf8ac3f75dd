"""A minimal little-endian plain-CDR (XCDR1) writer for messages too big to build as objects.

Why: an RViz TRIANGLE_LIST marker of one SMPL body holds 41,328 `geometry_msgs/Point`s. Building
that many message objects for rosbags takes tens to hundreds of milliseconds per person; writing
the same bytes from one numpy array takes well under one. Output is checked against rosbags'
deserialiser in the tests, so both stay byte-compatible.

Alignment follows CDR: each primitive is aligned to its size, counted from the start of the
payload (after the 4-byte encapsulation header).
"""

from __future__ import annotations

import struct

import numpy as np

CDR_LE_HEADER = b"\x00\x01\x00\x00"


class CdrWriter:
    def __init__(self) -> None:
        self._buf = bytearray(CDR_LE_HEADER)

    @property
    def offset(self) -> int:
        """Position in the payload (what alignment is computed against)."""
        return len(self._buf) - 4

    def align(self, size: int) -> None:
        self._buf.extend(b"\0" * (-self.offset % size))

    def _pack(self, fmt: str, size: int, *values: float | int) -> None:
        self.align(size)
        self._buf.extend(struct.pack("<" + fmt, *values))

    def bool(self, value: bool) -> None:
        self._buf.append(1 if value else 0)

    def int32(self, value: int) -> None:
        self._pack("i", 4, value)

    def uint32(self, value: int) -> None:
        self._pack("I", 4, value)

    def float32s(self, *values: float) -> None:
        self._pack(f"{len(values)}f", 4, *values)

    def float64s(self, *values: float) -> None:
        self._pack(f"{len(values)}d", 8, *values)

    def string(self, text: str) -> None:
        data = text.encode("utf-8") + b"\0"
        self.uint32(len(data))
        self._buf.extend(data)

    def sequence_length(self, count: int) -> None:
        self.uint32(count)

    def float64_rows(self, rows: np.ndarray) -> None:
        """A sequence of fixed structs made only of float64 (e.g. Point): count, then the values."""
        rows = np.ascontiguousarray(rows, dtype="<f8")
        self.sequence_length(len(rows))
        if len(rows):
            self.align(8)
            self._buf.extend(rows.tobytes())

    def uint8_sequence(self, data: bytes) -> None:
        self.sequence_length(len(data))
        self._buf.extend(data)

    def getvalue(self) -> bytes:
        return bytes(self._buf)
