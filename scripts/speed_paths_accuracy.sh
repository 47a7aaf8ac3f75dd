#!/usr/bin/env bash
# MPJPE of every CPU speed path (docs/runtime.md) on a labelled held-out set, with the model
# `fasthmr eval` resolves (the embedded default unless a checkpoint is given). All paths run
# Mask-ToMe, as in `fasthmr bench --sections cpu_paths`; the unmerged torch fp32 row is the
# reference. One JSON per path plus summary.json land in OUT_DIR.
# Usage: scripts/speed_paths_accuracy.sh DATA_DIR [OUT_DIR]   (make DATA_DIR with `fasthmr synth`)
set -euo pipefail
cd "$(dirname "$0")/.."
data="$1"
out="${2:-docs/results/speed_paths}"
fasthmr="${FASTHMR:-.venv/bin/fasthmr}"
mkdir -p "$out"
"$fasthmr" eval "$data" --backend cpu --precision fp32 --label "torch fp32, unmerged" --json "$out/torch_fp32_unmerged.json"
for path in "cpu fp32" "cpu bf16" "cpu int8" "onnxruntime fp32" "onnxruntime int8"; do
    read -r backend precision <<<"$path"
    "$fasthmr" eval "$data" --token-merging --backend "$backend" --precision "$precision" \
        --label "Mask-ToMe $backend $precision" --json "$out/tome_${backend}_${precision}.json"
done
.venv/bin/python - "$out" <<'EOF'
import json
import sys
from pathlib import Path

out = Path(sys.argv[1])
rows = {}
for path in sorted([*out.glob("torch_*.json"), *out.glob("tome_*.json")]):  # what this script wrote
    report = json.loads(path.read_text())
    rows[path.stem] = {k: report[k] for k in ("mpjpe_mm", "pa_mpjpe_mm", "pve_mm", "mean_pose_mpjpe_mm")}
(out / "summary.json").write_text(json.dumps(rows, indent=2) + "\n")
print(f"{'path':<28}{'MPJPE':>9}{'PA-MPJPE':>10}{'PVE':>9}")
for name, row in rows.items():
    print(f"{name:<28}{row['mpjpe_mm']:>9.2f}{row['pa_mpjpe_mm']:>10.2f}{row['pve_mm']:>9.2f}")
EOF
