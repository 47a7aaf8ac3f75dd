"""The one timing harness every `fasthmr bench` section uses.

Runs are interleaved (each variant once per round, then the next round), so a slow moment of a
shared machine hits every variant alike; figures are medians over the rounds. On CUDA the device
is synchronised around each timed call, so queued kernels are counted where they belong.
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm


@dataclass
class Section:
    """One table of the report: rows of plain values, printed and saved to JSON by name."""

    title: str
    columns: list[str]
    rows: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class Timings:
    """Seconds per call: wall clock, and CPU time of this process (all its threads).

    On a shared machine the wall clock includes waiting for a core; the CPU time does not, so
    comparing both tells contention from real cost.
    """

    wall: dict[str, list[float]]
    cpu: dict[str, list[float]]

    def median_ms(self, name: str, cpu: bool = False) -> float:
        return statistics.median((self.cpu if cpu else self.wall)[name]) * 1000

    def min_ms(self, name: str) -> float:
        """The least-disturbed run: on a busy machine closer to the real cost than the median."""
        return min(self.wall[name]) * 1000

    def all_ms(self, name: str) -> list[float]:
        return [round(t * 1000, 3) for t in self.wall[name]]


def device_sync(device: torch.device | str) -> Callable[[], None]:
    """A no-op on the CPU; waits for every queued kernel on a CUDA device."""
    device = torch.device(device)
    if device.type != "cuda":
        return lambda: None
    return lambda: torch.cuda.synchronize(device)


def interleaved_times(
    runs: dict[str, Callable[[], Any]],
    repeats: int,
    warmup: int = 1,
    sync: Callable[[], None] = lambda: None,
    desc: str = "timing",
) -> Timings:
    """Time each run `repeats` times, alternating between runs every round, after `warmup` rounds."""
    for _ in range(warmup):
        for fn in runs.values():
            fn()
    sync()
    timings = Timings({name: [] for name in runs}, {name: [] for name in runs})
    for _ in tqdm(range(repeats), desc=desc, unit="round", leave=False):
        for name, fn in runs.items():
            sync()
            start, start_cpu = time.perf_counter(), time.process_time()
            fn()
            sync()
            timings.wall[name].append(time.perf_counter() - start)
            timings.cpu[name].append(time.process_time() - start_cpu)
    return timings


def count_macs(fn: Callable[[], Any]) -> float:
    """MACs of one call (FLOPs / 2), CPU flash attention included (torch does not count it itself)."""
    from torch.utils.flop_counter import FlopCounterMode, sdpa_flop_count

    def cpu_sdpa(query: Any, key: Any, value: Any, *args: Any, out_shape: Any = None, **kwargs: Any) -> int:
        return sdpa_flop_count(query, key, value)

    mapping = {torch.ops.aten._scaled_dot_product_flash_attention_for_cpu: cpu_sdpa}
    with FlopCounterMode(display=False, custom_mapping=mapping) as counter:
        fn()
    return counter.get_total_flops() / 2


def load_average() -> list[float] | None:
    """1, 5 and 15 minute load averages: how much other work shared the cores during a run."""
    return [round(v, 2) for v in os.getloadavg()] if hasattr(os, "getloadavg") else None


def cpu_model() -> str:
    """The CPU's model name and its bf16/int8 instruction sets (what the CPU paths depend on)."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="ascii", errors="replace")
    except OSError:
        return platform.processor() or platform.machine()
    name = next((ln.split(":", 1)[1].strip() for ln in text.splitlines() if ln.startswith("model name")), "")
    flags = next((ln.split(":", 1)[1].split() for ln in text.splitlines() if ln.startswith("flags")), [])
    wanted = [
        f for f in ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_int8") if f in flags
    ]
    return f"{name} ({' '.join(wanted)})"


def environment(device: torch.device) -> dict[str, Any]:
    env: dict[str, Any] = {
        "torch": torch.__version__,
        "python": platform.python_version(),
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "threads": torch.get_num_threads(),
        "device": str(device),
        "load_average_1_5_15min": load_average(),
    }
    if device.type == "cuda":
        env["gpu"] = torch.cuda.get_device_name(device)
    return env


def format_table(section: Section) -> str:
    """Fixed-width text table of a section's rows (list-valued cells are left to the JSON)."""
    cells = [[str(row.get(c, "")) for c in section.columns] for row in section.rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(section.columns)]
    lines = [f"== {section.title}"]
    lines.append("  ".join(c.ljust(w) for c, w in zip(section.columns, widths, strict=True)))
    lines.extend("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in cells)
    lines.extend(f"   {note}" for note in section.notes)
    return "\n".join(lines)
