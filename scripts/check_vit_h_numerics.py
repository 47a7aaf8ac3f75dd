"""Full-size check that our ViT-H HMR reproduces the official forward pass.

Builds vit_h with non-trivial random weights and compares its float32 outputs with a literal,
float64 re-statement of HMR 2.0's forward pass (tests/official_layout.py). Prints the largest
absolute difference per output; the requirement is < 1e-4. Takes about 2 minutes on 2 CPU cores.

    .venv/bin/python scripts/check_vit_h_numerics.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from official_layout import randomize_, reference_forward  # noqa: E402

from fasthmr_ros.config import model_preset  # noqa: E402
from fasthmr_ros.models.hmr import HMR  # noqa: E402


def main() -> int:
    cfg = model_preset("vit_h")
    model = HMR(cfg).eval()
    randomize_(model, seed=7)
    crops = torch.randn(2, 3, 256, 256, generator=torch.Generator().manual_seed(0))
    start = time.perf_counter()
    with torch.no_grad():
        out = model(crops)
    print(f"vit_h forward, batch 2: {time.perf_counter() - start:.1f} s")
    ref = reference_forward(model.state_dict(), cfg, crops)
    worst = 0.0
    for key, ref_key in (("global_orient",) * 2, ("body_pose",) * 2, ("betas",) * 2, ("pred_cam",) * 2,
                         ("image_tokens", "tokens")):  # fmt: skip
        diff = (out[key].double() - ref[ref_key]).abs().max().item()
        worst = max(worst, diff)
        print(f"{key:14s} max |ours - official| = {diff:.2e}")
    print("PASS" if worst < 1e-4 else "FAIL", f"(worst {worst:.2e}, limit 1e-4)")
    return 0 if worst < 1e-4 else 1


if __name__ == "__main__":
    sys.exit(main())
