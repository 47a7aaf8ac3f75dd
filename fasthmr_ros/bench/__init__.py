"""`fasthmr bench` and `fasthmr soak`: measurement kept out of the library it measures.

`harness` holds the one interleaved timer; each other module is one section of the report, a
function `(BenchContext) -> Section`. To add a section, write such a function and list it in
`SECTIONS`.
"""

from __future__ import annotations

from collections.abc import Callable

from fasthmr_ros.bench.backends import backends_section, cpu_paths_section
from fasthmr_ros.bench.cameras import cameras_section
from fasthmr_ros.bench.context import BenchContext, BenchSettings
from fasthmr_ros.bench.decoders import decoders_section
from fasthmr_ros.bench.gpu import cuda_paths_section, cuda_precision_section
from fasthmr_ros.bench.harness import Section, format_table
from fasthmr_ros.bench.pipeline import pipeline_section, split_section
from fasthmr_ros.bench.variants import block_scaling_section, variants_section

SECTIONS: list[tuple[str, Callable[[BenchContext], Section]]] = [
    ("variants", variants_section),
    ("block_scaling", block_scaling_section),
    ("pipeline", pipeline_section),
    ("split", split_section),
    ("decoders", decoders_section),
    ("cameras", cameras_section),
    ("backends", backends_section),
    ("cpu_paths", cpu_paths_section),
    ("cuda_precision", cuda_precision_section),
    ("cuda_paths", cuda_paths_section),
]
# Exporting a full-size model to ONNX and quantizing it takes minutes and gigabytes, and the
# cameras section runs 13 full pipelines per round: only on request.
OPT_IN_SECTIONS = ("backends", "cpu_paths", "cuda_precision", "cuda_paths", "cameras")

__all__ = ["OPT_IN_SECTIONS", "SECTIONS", "BenchContext", "BenchSettings", "Section", "format_table"]
