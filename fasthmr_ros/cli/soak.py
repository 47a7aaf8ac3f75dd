"""`fasthmr soak`: the live DDS node under a synthetic 30 Hz camera for minutes (latency, drops, RSS)."""

from __future__ import annotations

import argparse
from dataclasses import fields

from fasthmr_ros.bench.soak import SoakSettings, run_soak


def add_arguments(parser: argparse.ArgumentParser) -> None:
    d = SoakSettings()
    parser.add_argument("--minutes", type=float, default=d.minutes)
    parser.add_argument("--rate", type=float, default=d.rate, help="input rate (Hz)")
    parser.add_argument("--width", type=int, default=d.width)
    parser.add_argument("--height", type=int, default=d.height)
    parser.add_argument("--domain-id", type=int, default=d.domain_id)
    parser.add_argument("--checkpoint", default=d.checkpoint, help="default: found or embedded")
    parser.add_argument("--preset", help="random-weight model of this preset, for timing")
    parser.add_argument("--mesh-markers", action="store_true", help="mesh TRIANGLE_LISTs in the markers")
    parser.add_argument("--cpu-threads", type=int, default=d.cpu_threads)
    parser.add_argument("--marker-rate", type=float, default=d.marker_rate)
    parser.add_argument("--json", help="write every sample and the summary here")
    parser.add_argument("--plot", help="PNG of latency, model time and RSS over time")


def run(args: argparse.Namespace) -> int:
    run_soak(SoakSettings(**{f.name: getattr(args, f.name) for f in fields(SoakSettings)}))
    return 0
