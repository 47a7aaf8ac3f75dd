"""The ECLM search as a person reads it: a JSON report and an error-vs-depth plot."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fasthmr_ros.eclm.merge import SearchResult


def search_report(result: SearchResult, **context: Any) -> dict[str, Any]:
    """Every window tried with its error, and the final plan; `context` adds provenance fields."""
    return {
        **context,
        "tau_mm": result.tau_mm,
        "base_mpjpe_mm": result.base_error_mm,
        "original_layers": result.depth,
        "final_layers": result.final_layers,
        "final_mpjpe_mm": result.final_error_mm,
        "final_delta_mm": result.final_error_mm - result.base_error_mm,
        "merge_plan": [list(w) for w in result.plan],
        "trials": [
            {
                "window": list(t.window),
                "plan": [list(w) for w in t.plan],
                "layers": t.layers,
                "mpjpe_mm": t.error_mm,
                "delta_mm": t.delta_mm,
                "passed": t.passed,
            }
            for t in result.trials
        ],
    }


def write_report(report: dict[str, Any], path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return path


def plot_search(result: SearchResult, path: str | Path, title: str = "ECLM layer merging") -> Path:
    """Scatter of every tried plan (layers vs MPJPE increase), tau line, the chosen model starred."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    for passed, colour, label in ((True, "tab:green", "within tau"), (False, "tab:red", "over tau")):
        trials = [t for t in result.trials if t.passed == passed]
        if trials:
            ax.scatter([t.layers for t in trials], [t.delta_mm for t in trials], c=colour, label=label, s=28)
    ax.axhline(result.tau_mm, color="0.3", linestyle="--", linewidth=1, label=f"tau = {result.tau_mm:g} mm")
    ax.scatter([result.depth], [0.0], marker="o", facecolors="none", edgecolors="k", s=60, label="unmerged")
    final_delta = result.final_error_mm - result.base_error_mm
    ax.scatter([result.final_layers], [final_delta], marker="*", c="gold", edgecolors="k", s=220,
               zorder=5, label=f"chosen: {result.final_layers} layers")
    if result.tau_mm > 0 and max((t.delta_mm for t in result.trials), default=0.0) > 50 * result.tau_mm:
        # Failing windows are often orders of magnitude over tau: keep tau readable.
        ax.set_yscale("symlog", linthresh=result.tau_mm)
    ax.set_xlabel("backbone layers after merging")
    ax.set_ylabel("MPJPE increase over the unmerged model (mm)")
    ax.set_title(title)
    ax.invert_xaxis()
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # layer counts are whole numbers
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
