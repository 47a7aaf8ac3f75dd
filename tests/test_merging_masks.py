"""Person masks -> patch labels: the coverage rule, the three sources and their fallbacks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fasthmr_ros.config import BackboneConfig, MergingConfig
from fasthmr_ros.errors import InputError
from fasthmr_ros.merging.masks import (
    CropMaskInput,
    Silhouette,
    box_to_crop,
    patch_grid,
    patch_labels,
    person_patch_mask,
    silhouette_to_crop,
    warp_to_crop,
)

BB = BackboneConfig()


def _coverage_by_loops(mask: np.ndarray) -> np.ndarray:
    """Reference: each patch's person fraction straight from the patch geometry (16 x 12 grid)."""
    kept = mask[:, 32:224]
    out = np.zeros((16, 12))
    for i in range(16):
        for j in range(12):
            total = 0.0
            for r in range(16 * i - 2, 16 * i + 14):
                for c in range(16 * j - 2, 16 * j + 14):
                    if 0 <= r < 256 and 0 <= c < 192:
                        total += kept[r, c]
            out[i, j] = total / 256
    return out


@pytest.mark.parametrize("threshold", [0.1, 0.5, 0.9])
def test_patch_labels_follow_the_coverage_rule(threshold: float) -> None:
    rng = np.random.default_rng(0)
    mask = np.zeros((256, 256), np.float32)
    mask[37:201, 70:150] = 1.0  # edges off the patch grid on purpose
    mask[rng.random((256, 256)) < 0.05] = 1.0
    labels = patch_labels(torch.from_numpy(mask)[None], BB, threshold)
    expected = _coverage_by_loops(mask) >= threshold
    assert labels.shape == (1, 192)
    assert np.array_equal(labels[0].numpy().reshape(16, 12), expected)


def test_patch_grid_matches_vitpose() -> None:
    assert patch_grid(BB) == (16, 12)


def test_box_and_segmentation_warp_through_the_crop_affine() -> None:
    # Image 512 x 512, crop = the image region x 64..448, y 64..448 scaled by 2/3 into 256 x 256.
    s = 256 / 384
    A = np.array([[s, 0, -64 * s], [0, s, -64 * s]])
    box = np.array([160.0, 100.0, 352.0, 430.0])
    seg = np.zeros((512, 512), np.float32)
    seg[100:430, 160:352] = 1.0
    from_box = box_to_crop(box, A, 256)
    from_seg = warp_to_crop(seg, A, 256)
    x1, y1, x2, y2 = ((box - 64) * s).round().astype(int)
    assert from_box[y1 + 2 : y2 - 2, x1 + 2 : x2 - 2].min() == 1.0
    assert from_box.sum() == pytest.approx((x2 - x1) * (y2 - y1), rel=0.03)
    assert np.abs(from_box - from_seg).mean() < 0.01
    assert torch.equal(
        patch_labels(torch.from_numpy(from_box)[None], BB, 0.5),
        patch_labels(torch.from_numpy(from_seg)[None], BB, 0.5),
    )


def test_silhouette_of_a_projected_rectangle() -> None:
    """A flat rectangle 2 m away, facing the camera, must fill its pinhole projection."""
    K = np.array([[500.0, 0, 128], [0, 500.0, 128], [0, 0, 1]])
    verts = np.array([[-0.2, -0.4, 2.0], [0.2, -0.4, 2.0], [0.2, 0.4, 2.0], [-0.2, 0.4, 2.0]])
    faces = np.array([[0, 1, 2], [0, 2, 3]])
    identity = np.array([[1.0, 0, 0], [0, 1.0, 0]])
    sil = silhouette_to_crop(verts, faces, K, identity, 256)
    assert sil.sum() == pytest.approx(100 * 200, rel=0.03)  # 0.4 m x 0.8 m at f/z = 250 px/m
    assert sil[28:228, 78:178].mean() > 0.97
    grown = silhouette_to_crop(verts, faces, K, identity, 256, dilate_px=4)
    assert grown.sum() > sil.sum() + 4 * 2 * (100 + 200) * 0.9
    behind = verts * np.array([1, 1, -1])
    assert silhouette_to_crop(behind, faces, K, identity, 256).sum() == 0


def test_person_patch_mask_sources_and_auto_order() -> None:
    identity = np.array([[1.0, 0, 0], [0, 1.0, 0]])
    box = np.array([32.0, 0.0, 224.0, 256.0])  # the whole kept area
    seg = np.zeros((256, 256), np.float32)
    seg[64:192, 96:160] = 1
    K = np.array([[500.0, 0, 128], [0, 500.0, 128], [0, 0, 1]])
    sil = Silhouette(
        np.array([[-0.1, -0.1, 2.0], [0.1, -0.1, 2.0], [0.1, 0.1, 2.0], [-0.1, 0.1, 2.0]]),
        np.array([[0, 1, 2], [0, 2, 3]]),
        K,
    )
    items = [
        CropMaskInput(identity, box, segmentation=seg, silhouette=sil),
        CropMaskInput(identity, box, silhouette=sil),
        CropMaskInput(identity, box),
    ]
    auto = person_patch_mask(items, MergingConfig(mask_source="auto", silhouette_dilate_px=0), BB)
    counts = auto.sum(dim=1).tolist()
    square = np.zeros((256, 256), np.float32)
    square[103:153, 103:153] = 1  # the silhouette: 0.2 m at 2 m with f = 500 px, centred
    expected_silhouette = int((_coverage_by_loops(square) >= 0.25).sum())
    assert counts == [8 * 4, expected_silhouette, 192]  # segmentation, then silhouette, then box
    box_only = person_patch_mask(items, MergingConfig(mask_source="box"), BB)
    assert box_only.all()
    assert person_patch_mask(items, MergingConfig(mask_source="none"), BB) is None
    with pytest.raises(InputError, match="mask source"):
        person_patch_mask(items, MergingConfig(mask_source="yolo"), BB)
    with pytest.raises(InputError, match="degenerate box"):
        box_to_crop(np.array([10.0, 10.0, 5.0, 20.0]), identity, 256)
