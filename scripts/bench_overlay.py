"""Time `render_meshes` at 1280x720 on one thread: median wall and CPU time over repeats.

Run: OMP_NUM_THREADS=1 .venv/bin/python scripts/bench_overlay.py [--json OUT.json]
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np
import torch

from fasthmr_ros.samples.scene import sample_camera, sample_motion, standin_body_model
from fasthmr_ros.viz.overlay import render_meshes


def _median_ms(fn, repeats: int = 15) -> tuple[float, float]:
    wall, cpu = [], []
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - w0)
        cpu.append(time.process_time() - c0)
    return 1000 * float(np.median(wall)), 1000 * float(np.median(cpu))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args()
    rows: list[dict[str, float | str]] = []
    torch.set_num_threads(1)
    K = sample_camera(1280, 720)
    image = np.full((720, 1280, 3), 90, np.uint8)
    model = standin_body_model()
    motion = sample_motion(30, 3, seed=0)
    persons = motion.persons(0)
    with torch.no_grad():
        verts = model(
            torch.tensor(np.stack([p[0] for p in persons]), dtype=torch.float32)[:, None],
            torch.tensor(np.stack([p[1] for p in persons]), dtype=torch.float32),
            torch.tensor(np.stack([p[2] for p in persons]), dtype=torch.float32),
        ).vertices.double().numpy()
    for z in (6.0, 3.5, 2.0):
        v = verts[0] - verts[0].mean(0) + np.array([0.0, 0.0, z])
        tall = np.ptp(v[:, 1]) * K[1, 1] / z
        wall, cpu = _median_ms(lambda v=v: render_meshes(image, [(v, model.faces)], K))
        print(f"1 body at {z} m (~{tall:.0f} px tall): wall {wall:.1f} ms, cpu {cpu:.1f} ms")
        rows.append({"scene": f"1 body at {z} m", "height_px": round(float(tall)), "wall_ms": wall})
        rows[-1]["cpu_ms"] = cpu
    meshes = [(verts[i] + motion.transl[0, i], model.faces) for i in range(3)]
    wall, cpu = _median_ms(lambda: render_meshes(image, meshes, K))
    print(f"3 bodies (sample_motion seed 0, frame 0): wall {wall:.1f} ms, cpu {cpu:.1f} ms")
    rows.append({"scene": "3 bodies (sample_motion seed 0, frame 0)", "wall_ms": wall, "cpu_ms": cpu})
    if args.json:
        report = {
            "command": "OMP_NUM_THREADS=1 .venv/bin/python scripts/bench_overlay.py --json " + args.json,
            "load_average_1min": os.getloadavg()[0],
            "rows": rows,
        }
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
