"""`fasthmr merge` and `fasthmr bench` end to end on small models, and the calibration sources."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from eclm_fixtures import DEPTH, constructed_model

from fasthmr_ros.cli.main import main
from fasthmr_ros.eclm.calibration import load_calibration
from fasthmr_ros.eclm.merge import CalibrationError
from fasthmr_ros.models.body_model import BodyModel
from fasthmr_ros.models.checkpoint import load_model, save_checkpoint
from fasthmr_ros.models.standin import write_standin_smpl


@pytest.fixture(scope="module")
def smpl(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_standin_smpl(tmp_path_factory.mktemp("body") / "SMPL_NEUTRAL.pkl")


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_checkpoint(constructed_model(), tmp_path_factory.mktemp("ckpt") / "model.pt")


def _frames(n: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 255, (120, 90, 3), dtype=np.uint8) for _ in range(n)]


def test_merge_label_free_on_an_image_folder(tmp_path: Path, smpl: Path, checkpoint: Path) -> None:
    folder = tmp_path / "frames"
    folder.mkdir()
    for i, frame in enumerate(_frames(5)):
        cv2.imwrite(str(folder / f"{i:03d}.png"), frame[:, :, ::-1])
    out = tmp_path / "merged.pt"
    code = main(["merge", "--checkpoint", str(checkpoint), "--calib", str(folder), "--tau", "0.5",
                 "--out", str(out), "--smpl", str(smpl)])
    assert code == 0
    report = json.loads(out.with_suffix(".json").read_text())
    assert report["mode"] == "label-free" and report["calibration_frames"] == 5
    assert report["merge_plan"] == [[1, 2], [4, 7]]
    assert report["final_delta_mm"] < 0.5
    assert len(report["trials"]) == DEPTH - 1
    assert all(t["passed"] == (t["delta_mm"] < 0.5) for t in report["trials"])
    plot = cv2.imread(str(out.with_suffix(".png")))
    assert plot is not None and plot.shape[0] > 200 and plot.std() > 5
    merged = load_model(out)
    assert merged.config.backbone.depth == 4 and merged.config.merge_plan == [[1, 2], [4, 7]]


def test_merge_labelled_npz_and_bad_inputs(tmp_path: Path, smpl: Path, checkpoint: Path, capsys) -> None:
    model = constructed_model()
    body = BodyModel(smpl)
    crops = np.stack([cv2.resize(f, (256, 256)) for f in _frames(4, seed=1)])
    calib = load_calibration(_write_npz(tmp_path / "c.npz", crops=crops))
    with torch.no_grad():
        out = model(calib.crops)
    truth = body(out["global_orient"], out["body_pose"], out["betas"]).smpl_joints.numpy()
    noisy = truth + np.random.default_rng(0).normal(0, 0.02, truth.shape)
    npz = _write_npz(tmp_path / "labelled.npz", crops=crops, joints_3d=noisy, joint_set=np.array("smpl_24"))
    merged = tmp_path / "m.pt"
    assert main(["merge", "--checkpoint", str(checkpoint), "--calib", str(npz), "--tau", "0.5",
                 "--out", str(merged), "--smpl", str(smpl)]) == 0
    report = json.loads(merged.with_suffix(".json").read_text())
    assert report["mode"] == "labelled"
    assert report["base_mpjpe_mm"] > 10  # 2 cm label noise per axis
    assert report["final_mpjpe_mm"] - report["base_mpjpe_mm"] < 0.5

    args = ["merge", "--checkpoint", str(checkpoint), "--tau", "0.5", "--out", str(tmp_path / "x.pt"),
            "--smpl", str(smpl), "--calib"]
    assert main([*args, str(tmp_path / "missing.npz")]) == 2
    assert "calibration data not found" in capsys.readouterr().err
    bad = _write_npz(tmp_path / "bad.npz", crops=crops[:, :100])
    assert main([*args, str(bad)]) == 2
    assert "(N, 256, 256, 3) uint8" in capsys.readouterr().err
    assert main([*args, str(npz), "--checkpoint", str(merged)]) == 2
    assert "already layer-merged" in capsys.readouterr().err


def _write_npz(path: Path, **arrays: np.ndarray) -> Path:
    np.savez(path, **arrays)
    return path


def test_calibration_from_video_and_images_with_boxes(tmp_path: Path) -> None:
    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, (90, 120))
    for frame in _frames(9):
        writer.write(frame[:, :, ::-1].copy())
    writer.release()
    calib = load_calibration(video, every=2)
    assert len(calib) == 5 and calib.joints is None
    assert calib.crops.shape == (5, 3, 256, 256)
    assert len(load_calibration(video, limit=3)) == 3

    images = np.stack(_frames(2))
    boxes = np.array([[10.0, 10.0, 60.0, 110.0], [0.0, 0.0, 90.0, 120.0]])
    calib = load_calibration(_write_npz(tmp_path / "ib.npz", images=images, boxes=boxes))
    assert calib.crops.shape == (2, 3, 256, 256) and calib.bbox_info.shape == (2, 3)
    with pytest.raises(CalibrationError, match="needs 'crops'"):
        load_calibration(_write_npz(tmp_path / "none.npz", images=images))
    notes = tmp_path / "notes.txt"
    notes.write_text("not frames")
    with pytest.raises(CalibrationError, match="not an npz"):
        load_calibration(notes)


def test_calibration_from_a_rosbag(tmp_path: Path) -> None:
    from fasthmr_ros.pipeline.camera import default_intrinsics
    from fasthmr_ros.samples.bag import write_camera_bag

    bag = tmp_path / "robot_bag"
    frames = _frames(4, seed=3)
    write_camera_bag(bag, ((i * 100_000_000, f) for i, f in enumerate(frames)), default_intrinsics(90, 120))
    calib = load_calibration(bag)
    assert len(calib) == 4
    direct = load_calibration(_write_npz(tmp_path / "same.npz", images=np.stack(frames),
                                         boxes=np.tile([0.0, 0.0, 90.0, 120.0], (4, 1))))
    assert torch.allclose(calib.crops, direct.crops)  # the bag's frames, cropped like the pipeline
    with pytest.raises(CalibrationError, match="not an image topic"):
        load_calibration(bag, topic="/camera/camera_info")


def test_bench_reports_every_variant(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    assert main(["bench", "--model", "tiny", "--repeats", "2", "--warmup", "0",
                 "--sections", "variants,block_scaling", "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    rows = {r["variant"]: r for r in data["sections"]["variants"]["rows"]}
    assert list(rows) == ["baseline", "+ECLM", "+Mask-ToMe", "ECLM+Mask-ToMe"]
    assert rows["baseline"]["layers"] == 4 and rows["+ECLM"]["layers"] == 3
    assert rows["+Mask-ToMe"]["tokens"] == 90 and rows["baseline"]["tokens"] == 192
    assert rows["baseline"]["mac_ratio"] == 1.0
    assert 1.0 < rows["+ECLM"]["mac_ratio"] < rows["ECLM+Mask-ToMe"]["mac_ratio"]
    assert rows["+Mask-ToMe"]["mac_ratio"] > 1.3
    assert all(len(r["all_ms"]) == 2 and r["median_ms"] > 0 for r in rows.values())
    scaling = data["sections"]["block_scaling"]["rows"]
    assert [r["tokens"] for r in scaling] == [192, 152, 112, 90]
    assert scaling[0]["time_ratio"] == 1.0 and scaling[-1]["token_ratio"] == pytest.approx(192 / 90, abs=1e-3)
    assert main(["bench", "--model", "tiny", "--sections", "nope"]) == 2


def test_calibration_crops_around_detected_persons(tmp_path: Path) -> None:
    from yolo_onnx_models import build_yolo_onnx

    from fasthmr_ros.eclm.calibration import best_person_box
    from fasthmr_ros.pipeline.yolo import YoloOnnxDetector

    # One anchor: a person box centred at (320, 320), 128 x 256 input pixels; score 0.9 on bright frames.
    onnx_path = build_yolo_onnx(tmp_path / "det.onnx", np.array([[320.0, 320.0, 128.0, 256.0]]),
                                np.array([[0.9]]))
    detect = best_person_box(YoloOnnxDetector(onnx_path, score_threshold=0.5))
    folder = tmp_path / "frames"
    folder.mkdir()
    bright = np.full((640, 640, 3), 40, np.uint8)
    bright[5, 5] = 255
    for name, frame in (("a.png", bright), ("b.png", np.zeros_like(bright)), ("c.png", bright)):
        cv2.imwrite(str(folder / name), frame)
    calib = load_calibration(folder, person_box=detect)
    assert len(calib) == 2  # the black frame has no person and is skipped
    box = np.array([[256.0, 192.0, 384.0, 448.0]])
    direct = load_calibration(_write_npz(tmp_path / "d.npz", images=np.stack([bright, bright]),
                                         boxes=np.repeat(box, 2, axis=0)))
    assert torch.allclose(calib.crops, direct.crops, atol=1e-4)
