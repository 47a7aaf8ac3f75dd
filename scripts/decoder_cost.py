"""Per-frame cost of the pose decoders on this machine, the figures docs/decoders.md and
docs/genhmr.md quote: diffusion decoder (paper and small presets), GenHMR sampling and
refinement at 192 and 90 image tokens. Writes the raw results as JSON.

    .venv/bin/python scripts/decoder_cost.py --json docs/bench/decoder_cost_cpu.json
"""

from __future__ import annotations

import argparse
import json
import os

import torch

from fasthmr_ros.bench.decoders import diffusion_cost, genhmr_cost


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", required=True, help="where to write the results")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    report = {
        "command": f".venv/bin/python scripts/decoder_cost.py --json {args.json} --repeats {args.repeats}",
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "diffusion": [diffusion_cost(repeats=args.repeats, preset=p) for p in ("paper", "small")],
        "genhmr": [genhmr_cost(repeats=args.repeats, num_image_tokens=n) for n in (192, 90)],
        "load_average_1min": [load_before, os.getloadavg()[0]],
    }
    with open(args.json, "w", encoding="utf-8") as f:
        json.dump(report, f, indent=1)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
