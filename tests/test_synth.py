"""The labelled synthetic world: labels agree with the pixels and with the body model, exactly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from fasthmr_ros.cli.main import main
from fasthmr_ros.errors import InputError
from fasthmr_ros.samples.dataset import read_labelled_set, usable_persons
from fasthmr_ros.samples.scene import standin_body_model
from fasthmr_ros.samples.synth import SynthConfig, write_synth_set

SMALL = SynthConfig(width=160, height=120, min_depth=2.0, max_depth=3.5)


@pytest.fixture(scope="module")
def synth_set(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("synth") / "set"
    write_synth_set(root, images=5, clips=1, frames=4, seed=3, cfg=SMALL, progress=False)
    return read_labelled_set(root)


def test_labels_match_the_body_model_and_the_camera(synth_set) -> None:
    ds = synth_set
    assert ds.num_images == 9 and ds.num_persons >= 9
    out = standin_body_model()(
        torch.as_tensor(ds.global_orient)[:, None], torch.as_tensor(ds.body_pose), torch.as_tensor(ds.betas)
    )
    np.testing.assert_allclose(out.smpl_joints.numpy() + ds.transl[:, None], ds.joints_3d, atol=1e-4)
    K = ds.intrinsics[ds.image_index]
    uv = ds.joints_3d[..., :2] / ds.joints_3d[..., 2:] * K[:, None, [0, 1], [0, 1]] + K[:, None, :2, 2]
    np.testing.assert_allclose(uv, ds.joints_2d, atol=1e-3)
    assert np.all(ds.joints_3d[..., 2] > 1.0)  # everyone in front of the camera


def test_masks_and_boxes_cover_each_visible_person(synth_set) -> None:
    ds = synth_set
    for index in range(ds.num_images):
        labels = ds.mask(index)
        assert labels is not None and labels.shape == ds.image_rgb(index).shape[:2]
        for k, row in enumerate(ds.persons_of(index)):
            ys, xs = np.nonzero(labels == k + 1)
            x1, y1, x2, y2 = ds.boxes[row]
            if ds.visible[row] > 0.05:
                assert xs.min() >= x1 - 1 and xs.max() <= x2 + 1 and ys.min() >= y1 - 1 and ys.max() <= y2 + 1
            else:
                assert len(xs) < 0.1 * (x2 - x1) * (y2 - y1)
    assert len(usable_persons(ds)) >= ds.num_images // 2


def test_clips_keep_their_people_and_move_smoothly(synth_set) -> None:
    ds = synth_set
    frames = np.flatnonzero(ds.clip == 0)
    assert list(ds.frame[frames]) == [0, 1, 2, 3]
    tracks = [ds.track_id[ds.persons_of(i)] for i in frames]
    assert all(np.array_equal(t, tracks[0]) for t in tracks)
    rows = np.flatnonzero(ds.track_id == tracks[0][0])
    step = np.linalg.norm(np.diff(ds.joints_3d[rows, 0], axis=0), axis=-1)
    assert np.all(step < 0.1)  # under 3 m/s at 30 fps
    still_tracks = ds.track_id[np.isin(ds.image_index, np.flatnonzero(ds.clip < 0))]
    assert len(set(still_tracks) & set(tracks[0])) == 0


def test_same_seed_same_data_other_seed_other_data(tmp_path: Path, synth_set) -> None:
    again = write_synth_set(tmp_path / "a", images=5, clips=1, frames=4, seed=3, cfg=SMALL, progress=False)
    np.testing.assert_array_equal(again.joints_3d, synth_set.joints_3d)
    np.testing.assert_array_equal(again.image_rgb(2), synth_set.image_rgb(2))
    other = write_synth_set(tmp_path / "b", images=5, seed=4, cfg=SMALL, progress=False)
    assert not np.allclose(other.joints_3d[:3], synth_set.joints_3d[:3])


def test_synth_cli_and_clear_errors(tmp_path: Path, capsys) -> None:
    out = tmp_path / "cli"
    assert main(["synth", str(out), "--images", "2", "--width", "96", "--height", "72", "--seed", "1"]) == 0
    assert "2 images" in capsys.readouterr().out
    assert read_labelled_set(out).num_images == 2
    assert main(["synth", str(out), "--images", "2"]) == 2  # never overwrites a data set
    with pytest.raises(InputError, match=r"labels\.npz missing"):
        read_labelled_set(tmp_path)
    with pytest.raises(InputError, match="nothing to write"):
        write_synth_set(tmp_path / "none", images=0)


def test_merge_calibration_reads_the_same_layout(synth_set) -> None:
    from fasthmr_ros.eclm.calibration import load_calibration

    calib = load_calibration(synth_set.root, limit=None)
    rows = usable_persons(synth_set)
    assert len(calib) == len(rows) and calib.joint_set == "smpl_24"
    np.testing.assert_allclose(calib.joints.numpy(), synth_set.joints_3d[rows])
    assert calib.crops.shape[1:] == (3, 256, 256)


def test_a_body_seen_from_behind_differs_from_its_depth_mirror_seen_from_the_front() -> None:
    """Without a front cue the mirror-symmetric stand-in facing the camera renders like its
    depth-mirrored twin facing away, and a regressor cannot learn the heading (docs/accuracy.md)."""
    from fasthmr_ros.models.standin import relaxed_pose
    from fasthmr_ros.samples.mannequin import random_clothing
    from fasthmr_ros.samples.synth import SceneRenderer, _orientation, _Person

    renderer = SceneRenderer(SynthConfig(width=160, height=120, occluder_probability=0.0))
    K = np.array([[150.0, 0, 80], [0, 150.0, 60], [0, 0, 1]])
    light = {"ambient": 0.4, "gain": 1.0, "contrast": 1.0, "brightness": 0.0, "cast": np.ones(3),
             "noise": 0.0, "blur": False}  # fmt: skip
    colors = random_clothing(np.random.default_rng(0))
    images, masks = [], []
    for yaw in (0.0, np.pi):
        orient = _orientation(yaw, 0.0, np.zeros(3))
        person = _Person(orient, relaxed_pose()[1:], np.zeros(10), np.zeros(3), colors)
        person.transl = np.array([0.0, 0.0, 2.5]) - renderer.root_offset(person)
        image, labels, _, _ = renderer.render(np.zeros((120, 160, 3), np.uint8), K, [person], light,
                                              np.random.default_rng(1))  # fmt: skip
        images.append(image.astype(float))
        masks.append(labels > 0)
    both = masks[0] & masks[1]
    assert both.sum() > 0.6 * masks[0].sum()  # nearly the same silhouette ...
    assert np.abs(images[0] - images[1])[both].mean() > 15  # ... but front and back look different
