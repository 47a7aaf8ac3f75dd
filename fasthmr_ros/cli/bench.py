"""`fasthmr bench`: what layer and token merging and the runtime paths buy, measured in one run.

Only argument parsing and the report's output live here; the sections are in `fasthmr_ros.bench`.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, fields
from pathlib import Path

import torch

from fasthmr_ros import bench
from fasthmr_ros.bench.harness import environment, load_average
from fasthmr_ros.errors import InputError


def section_names() -> list[str]:
    return [name for name, _ in bench.SECTIONS]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default="vit_h", help="architecture preset when no --checkpoint is given")
    parser.add_argument("--checkpoint", help="unmerged checkpoint to time (default: random weights)")
    parser.add_argument("--merged", help="ECLM-merged checkpoint (default: a 32->28 style plan, see docs)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda[:N]")
    parser.add_argument("--batch", type=int, default=1, help="crops per forward pass")
    parser.add_argument("--batches", help="cpu_paths: comma list of batch sizes (default: --batch)")
    parser.add_argument(
        "--paths", help="cpu_paths: comma list of variant:backend/precision (default: every CPU path)"
    )
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per variant (interleaved)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed runs per variant first")
    parser.add_argument("--dtypes", help="comma list of fp32,fp16,bf16 (default: fp32 on CPU, all on CUDA)")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    parser.add_argument(
        "--sections",
        help=f"comma list of {section_names()} (default: all but {list(bench.OPT_IN_SECTIONS)})",
    )
    parser.add_argument("--smpl", help="SMPL_NEUTRAL.pkl for the pipeline section (default: found/stand-in)")
    parser.add_argument("--j19", help="SMPL_to_J19.pkl for the pipeline section")
    parser.add_argument("--json", help="write the results here")


def run(args: argparse.Namespace) -> int:
    given = {f.name: getattr(args, f.name) for f in fields(bench.BenchSettings) if hasattr(args, f.name)}
    settings = bench.BenchSettings(**given)
    if settings.threads:
        torch.set_num_threads(settings.threads)
    ctx = bench.BenchContext(settings)
    default = [n for n in section_names() if n not in bench.OPT_IN_SECTIONS]
    wanted = settings.sections.split(",") if settings.sections else default
    unknown = sorted(set(wanted) - set(section_names()))
    if unknown:
        raise InputError(f"unknown sections {unknown}; choose from {section_names()}")
    load_before = load_average()
    results: dict[str, bench.Section] = {}
    for name, fn in bench.SECTIONS:
        if name in wanted:
            results[name] = fn(ctx)
            print(bench.format_table(results[name]), flush=True)
    print(f"load average (1, 5, 15 min) before / after: {load_before} / {load_average()}")
    if settings.json:
        payload = {
            "command": args.command_line,
            "settings": asdict(settings),
            "environment": {**environment(ctx.device), "load_average_before": load_before},
            "sections": {name: vars(section) for name, section in results.items()},
        }
        path = Path(settings.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(payload, indent=2, default=str) + "\n", encoding="utf-8")
        print(f"wrote {path}")
    return 0
