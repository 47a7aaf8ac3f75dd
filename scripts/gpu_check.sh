#!/usr/bin/env bash
# One-go check of the CUDA paths on a machine with an NVIDIA GPU, a CUDA build of PyTorch already
# installed, and no network. Under 8 minutes on a current datacenter GPU. It:
#   1. runs the CUDA tests (pytest -m gpu; the TensorRT ones skip unless TensorRT is installed),
#   2. compares torch CUDA fp32/fp16/bf16 outputs with CPU fp32 on the same (random, seeded) ViT-H
#      weights, for every merging variant (`fasthmr bench --sections cuda_precision`),
#   3. benchmarks ViT-H baseline vs the FastHMR variants at batch 1 and 8, eager fp32/fp16/bf16,
#      CUDA graphs and torch.compile (`--sections cuda_paths`),
# prints one table per section and writes everything to $OUT_DIR/gpu_check.json.
#
# Preparing it (on a machine with network, in the repository root):
#   The project itself runs from this source tree (PYTHONPATH), never pip-installed there: its
#   torch pin would replace the machine's CUDA build. What the GPU machine lacks are the small
#   pure-Python dependencies; fetch them as wheels into ./.whl, one version each, without their
#   own dependencies, for the GPU machine's Python (check with `python3 --version` there):
#       echo /.whl/ >> .git/info/exclude
#       python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
#           --implementation cp -d .whl smplx==0.1.28
#   A wheel with compiled parts also needs `--platform manylinux_2_17_x86_64` (or the platform tag
#   its files list); list a wheel's own needs with
#       unzip -p .whl/NAME-*.whl '*/METADATA' | grep ^Requires-Dist
#   and fetch those the GPU machine does not have. torch, numpy, scipy, opencv-python-headless,
#   onnx, onnxruntime, pyyaml, tqdm and pytest are expected there already.
#   Copy the repository (with .whl) to the GPU machine and run:  bash scripts/gpu_check.sh
#
# Not covered: TensorRT (its wheels are too large to carry to such a machine), so the engine
# build, the stream ordering of TensorRTRunner and the 8.5/8.6 op-set claims are checked only on
# the CPU side (exported op set vs the parsers' lists, tests/test_tensorrt_ops.py).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT_DIR="${OUT_DIR:-out/gpu_check}"
PY="${PYTHON:-python3}"
mkdir -p "$OUT_DIR"
SITE="$(mktemp -d)"
if compgen -G ".whl/*.whl" > /dev/null; then
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target "$SITE" .whl/*.whl
fi
export PYTHONPATH="$PWD:$SITE${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
"$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 'torch sees no CUDA GPU')"
"$PY" -c "import torch; print('torch', torch.__version__, 'on', torch.cuda.get_device_name())"

echo "== 1/3 CUDA tests"
timeout 180 "$PY" -m pytest -q -m gpu -p no:cacheprovider tests/test_runtime_gpu.py 2>&1 | tee "$OUT_DIR/pytest_gpu.log"

echo "== 2/3 + 3/3 precision and speed (ViT-H, random weights)"
timeout 360 "$PY" -m fasthmr_ros.cli.main bench --model vit_h --device cuda \
    --sections cuda_precision,cuda_paths --batches 1,8 --repeats 20 --warmup 3 \
    --json "$OUT_DIR/gpu_check.json"
echo "wrote $OUT_DIR/gpu_check.json"
