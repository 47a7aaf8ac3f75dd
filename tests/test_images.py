"""Image decoding: every supported encoding, and every rejection with its reason."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from fasthmr_ros.errors import InputError
from fasthmr_ros.pipeline.images import decode_compressed, decode_image, decode_image_message

H, W = 5, 7


@pytest.fixture
def rgb() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (H, W, 3), dtype=np.uint8)


def _padded(pixels: np.ndarray, pad: int) -> tuple[int, bytes]:
    """Rows of `pixels` (H, W*C bytes) with `pad` junk bytes after each -> (step, data)."""
    rows = pixels.reshape(H, -1)
    junk = np.full((H, pad), 0xAB, dtype=np.uint8)
    return rows.shape[1] + pad, np.concatenate([rows, junk], axis=1).tobytes()


@pytest.mark.parametrize("pad", [0, 3])
def test_colour_encodings(rgb: np.ndarray, pad: int) -> None:
    alpha = np.full((H, W, 1), 200, dtype=np.uint8)
    sources = {
        "rgb8": rgb,
        "bgr8": rgb[..., ::-1],
        "rgba8": np.concatenate([rgb, alpha], axis=2),
        "bgra8": np.concatenate([rgb[..., ::-1], alpha], axis=2),
    }
    for encoding, pixels in sources.items():
        step, data = _padded(np.ascontiguousarray(pixels), pad)
        out = decode_image(encoding, W, H, step, data)
        assert out.shape == (H, W, 3) and out.dtype == np.uint8, encoding
        np.testing.assert_array_equal(out, rgb, err_msg=encoding)


def test_mono8_and_numpy_data(rgb: np.ndarray) -> None:
    gray = rgb[..., 0].copy()
    out = decode_image("mono8", W, H, W, np.frombuffer(gray.tobytes(), np.uint8))
    np.testing.assert_array_equal(out, np.repeat(gray[..., None], 3, axis=2))


@pytest.mark.parametrize("bigendian", [False, True])
def test_mono16_both_byte_orders(bigendian: bool) -> None:
    values = np.arange(H * W, dtype=np.uint32).reshape(H, W) * 1500 % 65536
    dtype = ">u2" if bigendian else "<u2"
    data = values.astype(dtype).tobytes()
    out = decode_image("mono16", W, H, W * 2, data, is_bigendian=bigendian)
    for c in range(3):  # full 16-bit range -> 0..255, as cv_bridge scales it
        assert np.abs(out[..., c].astype(float) - values / 257).max() <= 1
    # Reading with the wrong byte order gives a different picture: the flag matters.
    wrong = decode_image("mono16", W, H, W * 2, data, is_bigendian=not bigendian)
    assert not np.array_equal(wrong, out)


def test_compressed_jpeg_and_png(rgb: np.ndarray) -> None:
    ok, png = cv2.imencode(".png", rgb[..., ::-1])
    assert ok
    np.testing.assert_array_equal(decode_compressed("png", png.tobytes()), rgb)
    smooth = np.zeros((32, 48, 3), np.uint8)
    smooth[..., 0] = np.linspace(0, 255, 48, dtype=np.uint8)[None]
    smooth[..., 2] = 90
    ok, jpg = cv2.imencode(".jpg", smooth[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 95])
    out = decode_compressed("rgb8; jpeg compressed bgr8", jpg)
    assert out.shape == smooth.shape
    assert np.abs(out.astype(int) - smooth).mean() < 3  # lossy, but clearly the same image (RGB order)


class _Msg:
    def __init__(self, **fields):
        self.__dict__.update(fields)


def test_message_duck_typing(rgb: np.ndarray) -> None:
    msg = _Msg(encoding="bgr8", width=W, height=H, step=W * 3, data=rgb[..., ::-1].tobytes(), is_bigendian=0)
    np.testing.assert_array_equal(decode_image_message(msg), rgb)
    with pytest.raises(InputError, match="neither"):
        decode_image_message(object())


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (("yuv444", W, H, W * 3, bytes(W * H * 3)), "unsupported image encoding 'yuv444'"),
        (("8UC1", W, H, W, bytes(W * H)), "unsupported image encoding"),
        (("16UC1", W, H, W * 2, bytes(W * H * 2)), "depth image; this node wants a colour"),
        (("32FC1", W, H, W * 4, bytes(W * H * 4)), "depth image; this node wants a colour"),
        (("nv12", 8, 4, 8, bytes(8 * 4)), "expected step\\*1.5\\*height = 8\\*6"),
        (("nv12", W, H, W, bytes(W * H * 3 // 2)), "even width and height"),
        (("uyvy", W, H, W * 2, bytes(W * H * 2)), "even width"),
        (("rgb8", W, H, W * 3, bytes(W * H * 3 - 1)), "expected step\\*height"),
        (("rgb8", W, H, W * 3, bytes(W * H * 3 + 5)), "expected step\\*height"),
        (("rgb8", W, H, W * 3 - 1, bytes((W * 3 - 1) * H)), "step 20 < width"),
        (("mono16", W, H, W * 2 + 1, bytes((W * 2 + 1) * H)), "not a multiple of 2"),
        (("mono8", 0, H, 0, b""), "no pixels"),
        (("mono8", W, H, W, "not bytes"), "bytes-like"),
        (("mono8", W, H, W, np.zeros(W * H, np.float32)), "uint8"),
    ],
)
def test_raw_rejections(args: tuple, reason: str) -> None:
    with pytest.raises(InputError, match=reason):
        decode_image(*args)


def test_compressed_rejections(rgb: np.ndarray) -> None:
    png = cv2.imencode(".png", rgb)[1].tobytes()
    cases = [
        ("png", b"", "no data"),
        ("tiff", png, "unsupported CompressedImage format 'tiff'"),
        ("png", b"GIF89a....", "neither JPEG nor PNG"),
        ("jpeg", png, "format says jpeg but the data is png"),
        ("16UC1; compressedDepth png", png, "depth image"),
        ("png", png[: len(png) // 2], "corrupt or truncated"),
    ]
    for fmt, data, reason in cases:
        with pytest.raises(InputError, match=reason):
            decode_compressed(fmt, data)
