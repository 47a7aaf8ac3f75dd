"""Crop geometry and the camera round trip (docs/camera.md)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fasthmr_ros.errors import InputError
from fasthmr_ros.models.hmr import IMAGE_MEAN, IMAGE_STD
from fasthmr_ros.pipeline.camera import crop_cam_to_full, default_intrinsics, intrinsics_from_k, project
from fasthmr_ros.pipeline.crop import box_center_size, crop_persons


def _denormalise(crop: torch.Tensor) -> np.ndarray:
    mean = np.asarray(IMAGE_MEAN)[:, None, None] * 255
    std = np.asarray(IMAGE_STD)[:, None, None] * 255
    return (crop.numpy() * std + mean).transpose(1, 2, 0)


def test_box_expansion_to_3_by_4() -> None:
    boxes = np.array([[0, 0, 100, 100], [0, 0, 60, 200], [10, 20, 30, 22]], dtype=float)
    centers, sizes = box_center_size(boxes, "hmr2")
    # square box: widened? no -> heightened to 100*256/192; a tall box keeps its height.
    assert sizes[0] == pytest.approx(100 * 256 / 192)
    assert sizes[1] == pytest.approx(200)
    assert np.allclose(centers[0], [50, 50])
    _, square = box_center_size(boxes, "square")
    assert np.allclose(square, [100, 200, 20])


def test_crop_maps_box_centre_to_crop_centre_and_is_rgb_normalised() -> None:
    img = np.zeros((480, 640, 3), dtype=np.uint8)
    img[200:210, 300:310] = (255, 0, 0)  # a red square centred at (305, 205)
    batch = crop_persons(img, np.array([[255, 125, 355, 285]]))  # centre (305, 205), size 160 (no blur)
    crop = _denormalise(batch.crops[0])
    assert batch.sizes[0] == pytest.approx(160 * 1.0)
    red = crop[..., 0] > 128
    ys, xs = np.nonzero(red)
    assert abs(xs.mean() - 128) < 1 and abs(ys.mean() - 128) < 1
    assert crop[..., 1].max() < 1 and crop[..., 2].max() < 1  # still RGB, not BGR
    # Outside the image the border is zero (black after de-normalisation).
    edge = crop_persons(img, np.array([[0, 0, 100, 100]]))
    assert np.allclose(_denormalise(edge.crops[0])[0, 0], 0, atol=1e-3)


def test_large_boxes_are_antialiased_like_a_whole_image_blur() -> None:
    import cv2

    rng = np.random.default_rng(0)
    img = rng.integers(0, 255, (900, 1200, 3), dtype=np.uint8)
    box = np.array([[300, 100, 900, 850]])
    batch = crop_persons(img, box)
    d = batch.sizes[0] / 256 / 2
    sigma = (d - 1) / 2
    r = int(4 * sigma + 0.5)
    full = cv2.GaussianBlur(
        img.astype(np.float32), (2 * r + 1, 2 * r + 1), sigma, borderType=cv2.BORDER_REPLICATE
    )
    s = 256 / batch.sizes[0]
    cx, cy = batch.centers[0]
    M = np.array([[s, 0, 128 - s * cx], [0, s, 128 - s * cy]])
    expect = cv2.warpAffine(full, M, (256, 256), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    assert np.abs(_denormalise(batch.crops[0]) - expect).max() < 1e-2


@pytest.mark.parametrize(
    "box", [[0, 0, 0, 10], [5, 5, 2, 20], [700, 10, 800, 100], [np.nan, 0, 10, 10], [-50, -50, -1, -1]]
)
def test_bad_boxes_are_clear_errors(box) -> None:
    with pytest.raises(InputError):
        crop_persons(np.zeros((100, 640, 3), np.uint8)[:, :600], np.array([box], dtype=float))


def test_bad_images_are_clear_errors() -> None:
    with pytest.raises(InputError):
        crop_persons(np.zeros((0, 0, 3), np.uint8), np.array([[0, 0, 1, 1]]))
    with pytest.raises(InputError):
        crop_persons(np.zeros((10, 10), np.uint8), np.array([[0, 0, 1, 1]]))


def test_intrinsics_from_k() -> None:
    cam = intrinsics_from_k([600, 0, 320, 0, 610, 240, 0, 0, 1], 640, 480)
    assert (cam.fx, cam.fy, cam.cx, cam.cy) == (600, 610, 320, 240)
    with pytest.raises(InputError, match="all zeros"):
        intrinsics_from_k([0] * 9, 640, 480)
    with pytest.raises(InputError):
        intrinsics_from_k([0] * 8, 640, 480)
    with pytest.raises(InputError):
        intrinsics_from_k([600, 0, 320, 0, 600, 240, 0, 0, 1], 0, 480)
    default = default_intrinsics(1280, 720)
    assert default.fx == pytest.approx(5000 / 256 * 1280) and default.cx == 640


@pytest.mark.parametrize(
    "fx,fy,px,py", [(5000 / 256 * 1280, 5000 / 256 * 1280, 640, 360), (900, 900, 600, 380)]
)
def test_camera_round_trip(fx, fy, px, py) -> None:
    """Points projected with the full-image camera land where the crop camera puts them."""
    cam = intrinsics_from_k([fx, 0, px, 0, fy, py, 0, 0, 1], 1280, 720)
    rng = np.random.default_rng(0)
    pred_cam = torch.tensor([[0.8, 0.05, -0.1], [1.1, -0.2, 0.15]], dtype=torch.float64)
    centers = torch.tensor([[300.0, 400.0], [900.0, 250.0]], dtype=torch.float64)
    sizes = torch.tensor([350.0, 220.0], dtype=torch.float64)
    transl = crop_cam_to_full(pred_cam, centers, sizes, cam)
    # Body points at the body's depth plane (z = 0 in the body frame): exact under both models.
    pts = torch.from_numpy(rng.uniform(-0.8, 0.8, (2, 20, 3)))
    pts[..., 2] = 0
    full = project(pts + transl[:, None], cam)
    # Crop camera: focal 5000 on a 256 crop, tz = 2*5000/(256 s); crop pixels -> image pixels.
    tz = 2 * 5000 / (256 * pred_cam[:, 0])
    crop_xy = 5000 * (pts[..., :2] + pred_cam[:, None, 1:]) / tz[:, None, None] + 128
    image_xy = centers[:, None] + (crop_xy - 128) * (sizes / 256)[:, None, None]
    assert torch.allclose(full, image_xy, atol=1e-6)
