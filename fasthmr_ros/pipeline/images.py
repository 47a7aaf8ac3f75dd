"""ROS image payloads -> RGB uint8 arrays, from plain message fields.

Why no ROS imports: the bag tool (rosbags messages), the live node (rclpy messages) and the tests
(raw bytes) all hold the same fields, and `cv_bridge` is not on PyPI (the PyPI
package of that name is ROS 1's).
Every rejection is an `InputError` naming the reason, so a caller can count and skip the frame.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from fasthmr_ros.errors import InputError

# encoding -> (channels, bytes per channel)
RAW_ENCODINGS: dict[str, tuple[int, int]] = {
    "rgb8": (3, 1),
    "bgr8": (3, 1),
    "rgba8": (4, 1),
    "bgra8": (4, 1),
    "mono8": (1, 1),
    "mono16": (1, 2),
}
COMPRESSED_FORMATS = ("jpeg", "png")
_JPEG_MAGIC = b"\xff\xd8\xff"
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _as_uint8(data: Any) -> np.ndarray:
    """bytes / bytearray / memoryview / numpy uint8 array -> flat uint8 view (no copy)."""
    if isinstance(data, np.ndarray):
        if data.dtype != np.uint8:
            raise InputError(f"image data must be uint8 bytes, got a {data.dtype} array")
        return data.reshape(-1)
    try:
        return np.frombuffer(data, dtype=np.uint8)
    except TypeError as exc:
        raise InputError(f"image data must be bytes-like, got {type(data).__name__}") from exc


def decode_image(
    encoding: str, width: int, height: int, step: int, data: Any, is_bigendian: bool | int = False
) -> np.ndarray:
    """`sensor_msgs/Image` fields -> (height, width, 3) RGB uint8.

    The result may be a read-only view of `data` when no conversion is needed (rgb8 without row
    padding); copy it before drawing on it. mono16 keeps its top 8 bits (full 16-bit range ->
    0..255), since downstream colour models expect 8-bit intensities.
    """
    if encoding not in RAW_ENCODINGS:
        raise InputError(
            f"unsupported image encoding {encoding!r}; supported: {', '.join(RAW_ENCODINGS)} "
            f"(and CompressedImage {'/'.join(COMPRESSED_FORMATS)})"
        )
    if width <= 0 or height <= 0:
        raise InputError(f"image has no pixels ({width}x{height})")
    channels, depth = RAW_ENCODINGS[encoding]
    row_bytes = width * channels * depth
    if step < row_bytes:
        raise InputError(f"{encoding} image step {step} < width*{channels * depth} = {row_bytes}")
    if depth > 1 and step % depth:
        raise InputError(f"{encoding} image step {step} is not a multiple of {depth}")
    buf = _as_uint8(data)
    if buf.size != step * height:
        raise InputError(
            f"{encoding} image data has {buf.size} bytes, "
            f"expected step*height = {step}*{height} = {step * height}"
        )
    rows = buf.reshape(height, step)[:, :row_bytes]  # drop row padding
    if depth == 2:
        order = ">" if is_bigendian else "<"
        pixels16 = np.ascontiguousarray(rows).view(f"{order}u2").reshape(height, width)
        gray = (pixels16 >> 8).astype(np.uint8)
        return cv2.cvtColor(gray, cv2.COLOR_GRAY2RGB)
    pixels = rows.reshape(height, width, channels)
    if encoding == "rgb8":
        return pixels if pixels.flags.c_contiguous else np.ascontiguousarray(pixels)
    conversion = {
        "bgr8": cv2.COLOR_BGR2RGB,
        "rgba8": cv2.COLOR_RGBA2RGB,
        "bgra8": cv2.COLOR_BGRA2RGB,
        "mono8": cv2.COLOR_GRAY2RGB,
    }[encoding]
    src = np.ascontiguousarray(pixels if channels > 1 else pixels[..., 0])
    return cv2.cvtColor(src, conversion)


def compressed_kind(fmt: str, data: np.ndarray) -> str:
    """Which codec a CompressedImage holds: from `format`, checked against the magic bytes.

    `format` is free text ("jpeg", "png", "rgb8; jpeg compressed bgr8", ...); depth images from
    compressed_depth_image_transport ("...compressedDepth...") are rejected, they are not colour.
    """
    text = fmt.lower()
    if "compresseddepth" in text:
        raise InputError(f"CompressedImage format {fmt!r} is a depth image, not a colour image")
    head = bytes(data[:8])
    sniffed = "jpeg" if head.startswith(_JPEG_MAGIC) else "png" if head.startswith(_PNG_MAGIC) else None
    named = "jpeg" if ("jpeg" in text or "jpg" in text) else "png" if "png" in text else None
    if named is None and text.strip():
        raise InputError(f"unsupported CompressedImage format {fmt!r}; supported: jpeg, png")
    if sniffed is None:
        raise InputError(f"CompressedImage data is neither JPEG nor PNG (starts with {head[:4].hex()})")
    if named is not None and named != sniffed:
        raise InputError(f"CompressedImage format says {named} but the data is {sniffed}")
    return sniffed


def decode_compressed(fmt: str, data: Any) -> np.ndarray:
    """`sensor_msgs/CompressedImage` fields -> (H, W, 3) RGB uint8."""
    buf = _as_uint8(data)
    if buf.size == 0:
        raise InputError("CompressedImage has no data")
    kind = compressed_kind(fmt, buf)
    bgr = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    if bgr is None:
        raise InputError(f"CompressedImage {kind} data is corrupt or truncated ({buf.size} bytes)")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def decode_image_message(msg: Any) -> np.ndarray:
    """Either message type, duck-typed on its fields (rosbags or rclpy objects alike)."""
    if hasattr(msg, "encoding"):
        return decode_image(msg.encoding, msg.width, msg.height, msg.step, msg.data, msg.is_bigendian)
    if hasattr(msg, "format"):
        return decode_compressed(msg.format, msg.data)
    raise InputError(f"{type(msg).__name__} is neither a sensor_msgs Image nor a CompressedImage")
