"""`fasthmr demo`: the main job end to end on generated input, with no downloads needed.

1. writes a synthetic image of stand-in people and runs `fasthmr predict` on it with the
   ground-truth boxes -> DIR/predict/result.json, overlay.png;
2. writes a short sample rosbag2 (stand-in people walking, with CameraInfo) and runs
   `fasthmr bag` on it -> DIR/humans_bag (per-frame HumanMeshArray, latched mesh, markers) and
   DIR/preview.mp4.
With real files in place (see `fasthmr download status`) the same command
uses them; otherwise the embedded default runs: trained on synthetic stand-in bodies only, its
meshes lie on the demo's stand-in people, and it says that real people need the real weights.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from fasthmr_ros.cli import bag, predict
from fasthmr_ros.samples.scene import person_boxes, sample_camera, sample_motion, write_sample_image


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="out/demo", help="output folder (default: out/demo)")
    parser.add_argument("--checkpoint", help="model checkpoint (default: found or embedded)")
    parser.add_argument("--smpl", help="SMPL_NEUTRAL.pkl (default: found or the stand-in body)")
    parser.add_argument("--device", default="cpu")


def run(args: argparse.Namespace) -> int:
    out = Path(args.out)
    width, height, seed = 1280, 720, 0
    image = write_sample_image(out / "sample.png", width, height, seed=seed)
    motion = sample_motion(num_frames=45, num_persons=2, seed=seed)
    K = sample_camera(width, height)
    boxes = person_boxes(width, height, K, motion.persons(motion.num_frames - 1))
    print(f"sample image with {len(boxes)} stand-in persons -> {image}")
    predict_args = argparse.Namespace(
        image=str(image),
        checkpoint=args.checkpoint,
        smpl=args.smpl,
        j19=None,
        box=[",".join(f"{v:.1f}" for v in b) for b in boxes],
        camera=f"{K[0, 0]},{K[1, 1]},{K[0, 2]},{K[1, 2]}",
        device=args.device,
        out=str(out / "predict"),
    )
    code = predict.run(predict_args)
    if code != 0:
        return code
    print("sample rosbag2 -> fasthmr bag")
    return bag.run_sample(out, checkpoint=args.checkpoint, smpl=args.smpl, device=args.device)
