"""Human-readable output of `fasthmr eval`: a text table and a plot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

ROWS = (
    ("mpjpe_mm", "MPJPE (mm)"),
    ("pa_mpjpe_mm", "PA-MPJPE (mm)"),
    ("pve_mm", "PVE (mm)"),
    ("accel_mm", "accel error (mm/frame^2)"),
    ("mean_pose_mpjpe_mm", "mean-pose baseline MPJPE (mm)"),
    ("pelvis_error_mm", "pelvis position error (mm)"),
    ("joints2d_px", "2D joint error (px)"),
    ("per_crop_ms_median", "per-crop latency, median (ms)"),
)


def table(report: dict[str, Any]) -> str:
    lines = [f"{'metric':<34}{'value':>10}"]
    for key, label in ROWS:
        if key in report:
            lines.append(f"{label:<34}{report[key]:>10.2f}")
    lines.append(f"{'persons (missed)':<34}{report['persons']:>6} ({report['missed']})")
    for kind, part in report.get("by_kind", {}).items():
        model, mean = part["mpjpe_mm"], part["mean_pose_mpjpe_mm"]
        label = f"{kind}: MPJPE / mean pose (mm)"
        ratio = f"({mean / model:.2f}x, {part['persons']} persons)"
        lines.append(f"{label:<34}{model:>10.2f} / {mean:.2f} {ratio}")
    return "\n".join(lines)


def plot(report: dict[str, Any], path: str | Path, title: str) -> Path:
    """Bars of the errors beside the mean-pose baseline, and the per-person MPJPE histogram."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, (bars, hist) = plt.subplots(1, 2, figsize=(10, 4), dpi=120)
    keys = [k for k in ("mpjpe_mm", "pa_mpjpe_mm", "pve_mm", "mean_pose_mpjpe_mm") if k in report]
    labels = {
        "mpjpe_mm": "MPJPE",
        "pa_mpjpe_mm": "PA-MPJPE",
        "pve_mm": "PVE",
        "mean_pose_mpjpe_mm": "mean pose\nMPJPE",
    }
    colours = ["tab:blue", "tab:blue", "tab:blue", "0.6"]
    values = [report[k] for k in keys]
    bars.bar([labels[k] for k in keys], values, color=colours[: len(keys)])
    for i, v in enumerate(values):
        bars.text(i, v, f"{v:.0f}", ha="center", va="bottom", fontsize=9)
    bars.set_ylabel("error (mm)")
    bars.set_title(title, fontsize=9)
    hist.hist(report["per_person_mpjpe_mm"], bins=40, color="tab:blue", alpha=0.8, label="model")
    hist.axvline(report["mean_pose_mpjpe_mm"], color="0.4", linestyle="--", label="mean-pose baseline (mean)")
    hist.set_xlabel("MPJPE per person (mm)")
    hist.set_ylabel("persons")
    hist.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
