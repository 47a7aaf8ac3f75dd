#!/usr/bin/env bash
# The diffusion decoder's evidence run (docs/decoders.md): train both stages on synthetic motion,
# then compare with the noisy per-frame regressor it was given. CPU, about 25 minutes on 2 cores.
# Usage: scripts/diffusion_evidence.sh [OUT_DIR]   (PYTHON=... to pick the interpreter)
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-out/diffusion_evidence}"
py="${PYTHON:-.venv/bin/python}"
mkdir -p "$out"
common=(--synthetic 256 --frames 240 --save-every 250 --batch-size 64 --lr 1e-3)
"$py" -m fasthmr_ros.cli.main train-decoder vae --preset small --steps 1500 "${common[@]}" --out "$out/vae.pt"
"$py" -m fasthmr_ros.cli.main train-decoder denoiser --vae "$out/vae.pt" --noise-deg 6 --steps 2000 \
    "${common[@]}" --out "$out/decoder.pt"
for k in 0 8; do
    "$py" -m fasthmr_ros.cli.main eval-decoder --model "$out/decoder.pt" --synthetic 16 \
        --frames 240 --noise-deg 6 --lookahead "$k" --plot "$out/left_wrist_lookahead$k.png" \
        --json "$out/metrics_lookahead$k.json"
done
