"""ROS image payloads -> RGB uint8 arrays, from plain message fields.

Why no ROS imports: the bag tool (rosbags messages), the live node (rclpy messages) and the tests
(raw bytes) all hold the same fields, and `cv_bridge` is not on PyPI (the PyPI package of that
name is ROS 1's). The colour conversions themselves come from `rosbags-image` (the rosbags
authors' cv_bridge equivalent, OpenCV underneath), which knows every encoding cv_bridge turns into
colour; this module checks the layout (step, size, row padding) that it leaves to the caller.
Every rejection is an `InputError` naming the reason, so a caller can count and skip the frame.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import cv2
import numpy as np
from rosbags.image import ImageError, image_to_cvimage

from fasthmr_ros.errors import InputError

# What a camera driver may send that cv_bridge turns into rgb8: encoding -> (channels, bytes per
# channel) of its pixel layout (nv12/nv21: per row of the Y plane and of the chroma plane).
LAYOUTS: dict[str, tuple[int, int]] = {
    **dict.fromkeys(("rgb8", "bgr8", "8UC3"), (3, 1)),
    **dict.fromkeys(("rgba8", "bgra8", "8UC4"), (4, 1)),
    **dict.fromkeys(("rgb16", "bgr16"), (3, 2)),
    **dict.fromkeys(("rgba16", "bgra16"), (4, 2)),
    **dict.fromkeys(("mono8", "nv12", "nv21"), (1, 1)),
    "mono16": (1, 2),
    **dict.fromkeys(("yuv422", "uyvy", "yuv422_yuy2", "yuyv"), (2, 1)),
    **{f"bayer_{order}8": (1, 1) for order in ("rggb", "bggr", "gbrg", "grbg")},
    **{f"bayer_{order}16": (1, 2) for order in ("rggb", "bggr", "gbrg", "grbg")},
}
COLOUR_ENCODINGS = tuple(LAYOUTS)
DEPTH_ENCODINGS = ("16UC1", "32FC1")
# YUV 4:2:0: a full-resolution Y plane, then a half-height plane of interleaved chroma.
_YUV420 = ("nv12", "nv21")
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


def _check_encoding(encoding: str) -> None:
    if encoding in DEPTH_ENCODINGS:
        raise InputError(
            f"image encoding {encoding!r} is a depth image; this node wants a colour camera image "
            f"({', '.join(COLOUR_ENCODINGS[:4])}, ... or CompressedImage) on its image topic"
        )
    if encoding not in COLOUR_ENCODINGS:
        raise InputError(
            f"unsupported image encoding {encoding!r}; supported: {', '.join(COLOUR_ENCODINGS)} "
            f"(and CompressedImage {'/'.join(COMPRESSED_FORMATS)})"
        )


def decode_image(
    encoding: str, width: int, height: int, step: int, data: Any, is_bigendian: bool | int = False
) -> np.ndarray:
    """`sensor_msgs/Image` fields -> (height, width, 3) RGB uint8.

    The result may be a read-only view of `data` when no conversion is needed (rgb8 without row
    padding); copy it before drawing on it. 16-bit images are scaled to 8 bits over their full
    range, as cv_bridge does. nv12/nv21 messages give the picture's height; their data holds
    height * 3/2 rows of `step` bytes.
    """
    _check_encoding(encoding)
    if width <= 0 or height <= 0:
        raise InputError(f"image has no pixels ({width}x{height})")
    channels, depth = LAYOUTS[encoding]
    rows = height * 3 // 2 if encoding in _YUV420 else height
    if encoding in _YUV420 and (width % 2 or height % 2):
        raise InputError(f"{encoding} image must have an even width and height, got {width}x{height}")
    if encoding in ("yuv422", "uyvy", "yuv422_yuy2", "yuyv") and width % 2:
        raise InputError(f"{encoding} image must have an even width, got {width}")
    row_bytes = width * channels * depth
    if step < row_bytes:
        raise InputError(f"{encoding} image step {step} < width*{channels * depth} = {row_bytes}")
    if depth > 1 and step % depth:
        raise InputError(f"{encoding} image step {step} is not a multiple of {depth}")
    buf = _as_uint8(data)
    if buf.size != step * rows:
        raise InputError(
            f"{encoding} image data has {buf.size} bytes, expected step*{'1.5*' if rows != height else ''}"
            f"height = {step}*{rows} = {step * rows}"
        )
    packed = buf.reshape(rows, step)[:, :row_bytes]  # drop row padding
    if not packed.flags.c_contiguous:
        packed = np.ascontiguousarray(packed)
    msg = SimpleNamespace(encoding=encoding, width=width, height=rows, data=packed, is_bigendian=is_bigendian)
    try:
        if encoding == "8UC4":  # channels taken as RGBA, as cv_bridge does for generic 4-channel data
            return cv2.cvtColor(image_to_cvimage(msg, "rgba8"), cv2.COLOR_RGBA2RGB)
        rgb = image_to_cvimage(msg, "rgb8")
    except ImageError as exc:
        raise InputError(f"{encoding} image could not be converted to rgb8: {exc}") from exc
    return rgb if rgb.flags.c_contiguous else np.ascontiguousarray(rgb)


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
