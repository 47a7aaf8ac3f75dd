"""Every colour encoding a camera driver may send, decoded to RGB and compared with known colours.

Each raw payload is made from one known RGB picture with OpenCV's forward conversions (YUV) or by
construction (Bayer mosaics, 16-bit, generic 8UCn), then decoded the way the node and the bag
tool decode it. The picture is four flat colour blocks, so chroma subsampling and demosaicing
are exact away from block edges; colours are compared there.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from fasthmr_ros.pipeline.images import COLOUR_ENCODINGS, decode_image

S = 16  # block side; the picture is 2S x 2S
COLOURS = [(200, 30, 40), (30, 180, 60), (40, 50, 220), (220, 200, 40)]
# Bayer pattern name -> which colour channel (0 R, 1 G, 2 B) sits at (row % 2, col % 2).
BAYER = {
    "rggb": ((0, 1), (1, 2)),
    "bggr": ((2, 1), (1, 0)),
    "gbrg": ((1, 2), (0, 1)),
    "grbg": ((1, 0), (2, 1)),
}


def picture() -> np.ndarray:
    rgb = np.zeros((2 * S, 2 * S, 3), np.uint8)
    for i, colour in enumerate(COLOURS):
        rgb[(i // 2) * S : (i // 2 + 1) * S, (i % 2) * S : (i % 2 + 1) * S] = colour
    return rgb


def interiors(image: np.ndarray, margin: int = 3) -> list[np.ndarray]:
    """Mean colour of each block, `margin` pixels away from every edge."""
    return [
        image[r * S + margin : (r + 1) * S - margin, c * S + margin : (c + 1) * S - margin].reshape(-1, 3)
        for r in range(2)
        for c in range(2)
    ]


def yuv422(rgb: np.ndarray, code: int) -> np.ndarray:
    return cv2.cvtColor(rgb, code).reshape(rgb.shape[0], -1)


def nv(rgb: np.ndarray, v_first: bool) -> np.ndarray:
    """I420 (planar Y, U, V) from OpenCV -> NV12 / NV21 (Y plane, then interleaved chroma)."""
    h, w = rgb.shape[:2]
    i420 = cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420).reshape(-1)
    y, u, v = i420[: h * w], i420[h * w : h * w * 5 // 4], i420[h * w * 5 // 4 :]
    chroma = np.stack([v, u] if v_first else [u, v], axis=1).reshape(h // 2, w)
    return np.concatenate([y.reshape(h, w), chroma])


def bayer(rgb: np.ndarray, pattern: str) -> np.ndarray:
    mosaic = np.zeros(rgb.shape[:2], rgb.dtype)
    for dr in range(2):
        for dc in range(2):
            mosaic[dr::2, dc::2] = rgb[dr::2, dc::2, BAYER[pattern][dr][dc]]
    return mosaic


def encode(encoding: str, rgb: np.ndarray) -> tuple[np.ndarray, bool]:
    """Known RGB -> (pixel rows as the wire carries them, is_bigendian)."""
    wide = rgb.astype(np.uint16) * 257  # 8 -> 16 bit over the full range
    alpha8 = np.full((*rgb.shape[:2], 1), 77, np.uint8)
    alpha16 = np.full((*rgb.shape[:2], 1), 4242, np.uint16)
    sources = {
        "rgb8": lambda: rgb,
        "bgr8": lambda: rgb[..., ::-1],
        "8UC3": lambda: rgb,
        "rgba8": lambda: np.concatenate([rgb, alpha8], axis=2),
        "bgra8": lambda: np.concatenate([rgb[..., ::-1], alpha8], axis=2),
        "8UC4": lambda: np.concatenate([rgb, alpha8], axis=2),
        "rgb16": lambda: wide,
        "bgr16": lambda: wide[..., ::-1].astype(">u2"),  # also a big-endian payload
        "rgba16": lambda: np.concatenate([wide, alpha16], axis=2),
        "bgra16": lambda: np.concatenate([wide[..., ::-1], alpha16], axis=2),
        "mono8": lambda: cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY),
        "mono16": lambda: cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.uint16) * 257,
        "yuv422": lambda: yuv422(rgb, cv2.COLOR_RGB2YUV_UYVY),
        "uyvy": lambda: yuv422(rgb, cv2.COLOR_RGB2YUV_UYVY),
        "yuv422_yuy2": lambda: yuv422(rgb, cv2.COLOR_RGB2YUV_YUY2),
        "yuyv": lambda: yuv422(rgb, cv2.COLOR_RGB2YUV_YUYV),
        "nv12": lambda: nv(rgb, v_first=False),
        "nv21": lambda: nv(rgb, v_first=True),
    }
    for pattern in BAYER:
        sources[f"bayer_{pattern}8"] = lambda p=pattern: bayer(rgb, p)
        sources[f"bayer_{pattern}16"] = lambda p=pattern: bayer(wide, p)
    pixels = np.ascontiguousarray(sources[encoding]())
    big = pixels.dtype.byteorder == ">"
    return pixels.view(np.uint8).reshape(pixels.shape[0], -1), big


def test_what_cv_bridge_turns_into_colour_is_supported() -> None:
    cv_bridge_colour = {"rgb8", "bgr8", "rgba8", "bgra8", "rgb16", "bgr16", "rgba16", "bgra16", "mono8"}
    cv_bridge_colour |= {"mono16", "yuv422", "uyvy", "yuv422_yuy2", "yuyv", "nv12", "nv21", "8UC3", "8UC4"}
    cv_bridge_colour |= {f"bayer_{p}{bits}" for p in BAYER for bits in (8, 16)}
    assert cv_bridge_colour <= set(COLOUR_ENCODINGS)


@pytest.mark.parametrize("encoding", COLOUR_ENCODINGS)
@pytest.mark.parametrize("pad", [0, 6])
def test_encoding_decodes_to_the_known_colours(encoding: str, pad: int) -> None:
    rgb = picture()
    rows, big = encode(encoding, rgb)
    padded = np.concatenate([rows, np.full((rows.shape[0], pad), 0xAB, np.uint8)], axis=1)
    out = decode_image(encoding, rgb.shape[1], rgb.shape[0], padded.shape[1], padded.tobytes(), big)
    assert out.shape == rgb.shape and out.dtype == np.uint8
    mono = encoding.startswith("mono")
    expected = cv2.cvtColor(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB) if mono else rgb
    # YUV round trips lose a few levels to integer rounding; everything else is exact.
    tolerance = 4 if encoding in ("yuv422", "uyvy", "yuv422_yuy2", "yuyv", "nv12", "nv21") else 1
    for got, want in zip(interiors(out), interiors(expected), strict=True):
        assert np.abs(got.astype(int) - want.astype(int)).max() <= tolerance, (encoding, got[0], want[0])
