"""`fasthmr predict` / `fasthmr demo` end to end on the embedded default, and their bad inputs."""

from __future__ import annotations

import json
import pickle
import sys
import types

import cv2
import numpy as np
import pytest

from fasthmr_ros.cli.main import main
from fasthmr_ros.models.body_model import BodyModel, read_smpl_pkl
from fasthmr_ros.models.standin import ensure_standin_assets


def test_demo_runs_end_to_end_and_writes_result_and_overlay(tmp_path, capsys) -> None:
    assert main(["demo", "--out", str(tmp_path)]) == 0
    result = json.loads((tmp_path / "predict" / "result.json").read_text())
    assert "synthetic stand-in bodies only" in result["warning"]
    assert len(result["persons"]) == 2
    person = result["persons"][0]
    assert np.asarray(person["body_pose"]).shape == (23, 3, 3)
    assert np.asarray(person["global_orient"]).shape == (3, 3)
    assert len(person["betas"]) == 10
    joints3d = np.asarray(person["joints3d_m"])
    assert joints3d.shape == (44, 3) and person["joint_set"] == "hmr2_44"
    assert np.all(joints3d[:, 2] > 0), "the body must be in front of the camera"
    # 2D joints are the 3D joints projected with the camera reported in the file.
    cam = result["camera"]
    uv = joints3d[:, :2] / joints3d[:, 2:] * [cam["fx"], cam["fy"]] + [cam["cx"], cam["cy"]]
    assert np.allclose(uv, person["joints2d_px"], atol=1e-2)
    overlay = cv2.imread(str(tmp_path / "predict" / "overlay.png"))
    source = cv2.imread(str(tmp_path / "sample.png"))
    assert overlay.shape == source.shape
    assert (np.abs(overlay.astype(int) - source).sum(axis=2) > 30).mean() > 0.01, "nothing drawn"
    assert "synthetic stand-in bodies only" in capsys.readouterr().out


def test_predict_with_boxes_and_camera(tmp_path) -> None:
    image = np.full((240, 320, 3), 90, np.uint8)
    cv2.imwrite(str(tmp_path / "in.jpg"), image)
    code = main(
        [
            "predict",
            str(tmp_path / "in.jpg"),
            "--box",
            "10,10,100,200",
            "--box",
            "150,20,300,230",
            "--camera",
            "300,300,160,120",
            "--out",
            str(tmp_path / "o"),
        ]
    )
    assert code == 0
    result = json.loads((tmp_path / "o" / "result.json").read_text())
    assert [p["bbox"] for p in result["persons"]] == [[10, 10, 100, 200], [150, 20, 300, 230]]
    assert result["camera"]["source"] == "camera_info" and result["camera"]["fx"] == 300


@pytest.mark.parametrize(
    "setup,args,message",
    [
        (None, ["missing.png"], "image not found"),
        ("empty", ["empty.png"], "image file is empty"),
        ("garbage", ["garbage.png"], "cannot decode image"),
        ("ok", ["ok.png", "--box", "1,2,3"], "--box expects 4 numbers"),
        ("ok", ["ok.png", "--box", "500,500,600,600"], "outside"),
        ("ok", ["ok.png", "--box", "10,10,10,50"], "zero or negative size"),
        ("ok", ["ok.png", "--camera", "0,0,0,0"], "non-positive focal"),
        ("ok", ["ok.png", "--smpl", "nowhere/SMPL_NEUTRAL.pkl"], "nowhere/SMPL_NEUTRAL.pkl"),
        ("ok", ["ok.png", "--checkpoint", "nowhere.ckpt"], "nowhere.ckpt"),
    ],
)
def test_bad_input_is_one_clear_line(tmp_path, capsys, monkeypatch, setup, args, message) -> None:
    monkeypatch.chdir(tmp_path)
    if setup == "empty":
        (tmp_path / "empty.png").write_bytes(b"")
    elif setup == "garbage":
        (tmp_path / "garbage.png").write_bytes(b"\x89PNG not really")
    elif setup == "ok":
        cv2.imwrite(str(tmp_path / "ok.png"), np.zeros((100, 100, 3), np.uint8))
    assert main(["predict", *args, "--out", "o"]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_missing_smpl_error_says_where_to_get_it(tmp_path) -> None:
    from fasthmr_ros.errors import MissingFileError

    with pytest.raises(MissingFileError, match=r"smpl\.is\.tue\.mpg\.de.*SMPL_NEUTRAL\.pkl"):
        read_smpl_pkl(tmp_path / "SMPL_NEUTRAL.pkl")


def test_official_chumpy_pickles_load_without_chumpy(tmp_path, monkeypatch) -> None:
    """Official SMPL files pickle chumpy arrays; we read them as numpy without importing chumpy."""
    data = read_smpl_pkl(ensure_standin_assets().smpl)
    fake = types.ModuleType("chumpy.ch")

    class Ch:  # what chumpy pickles: an object whose state holds the array under 'x'
        def __init__(self, x):
            self.x = x

        def __reduce__(self):
            return (Ch, (None,), {"x": self.x})

    Ch.__module__ = "chumpy.ch"
    Ch.__qualname__ = "Ch"
    fake.Ch = Ch
    monkeypatch.setitem(sys.modules, "chumpy", types.ModuleType("chumpy"))
    monkeypatch.setitem(sys.modules, "chumpy.ch", fake)
    official_like = dict(data)
    for key in ("v_template", "shapedirs", "posedirs", "weights"):
        official_like[key] = Ch(np.asarray(data[key]))
    path = tmp_path / "SMPL_NEUTRAL.pkl"
    with open(path, "wb") as f:
        pickle.dump(official_like, f, protocol=2)
    monkeypatch.delitem(sys.modules, "chumpy.ch")
    monkeypatch.delitem(sys.modules, "chumpy")
    loaded = read_smpl_pkl(path)
    assert np.array_equal(loaded["v_template"], data["v_template"])
    body = BodyModel(path)
    assert body.joint_set == "smpl_45" and body.faces.shape == (13776, 3)


def test_embedded_default_is_deterministic() -> None:
    import torch

    from fasthmr_ros.models.default import embedded_default_model

    a, b = embedded_default_model().state_dict(), embedded_default_model().state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
