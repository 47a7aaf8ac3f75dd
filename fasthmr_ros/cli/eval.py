"""`fasthmr eval DATA [--checkpoint CKPT] [--merged CKPT] [--token-merging] [--decoder D] --json OUT`.

Accuracy of the whole per-frame pipeline on a labelled data set (docs/accuracy.md): MPJPE,
PA-MPJPE and PVE in mm, acceleration error on clips, per-crop latency and the mean-pose baseline,
printed as a table and written as JSON (top-level keys `mpjpe_mm`, `pa_mpjpe_mm`, `pve_mm`,
`mean_pose_mpjpe_mm`, `accel_mm` for clips) and a PNG plot beside it when matplotlib (the `plot`
extra) is installed.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from fasthmr_ros.config import DECODERS
from fasthmr_ros.merging.masks import MASK_SOURCES

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("data", help="labelled data-set folder (`fasthmr synth` layout)")
    parser.add_argument("--checkpoint", help="model checkpoint (default: found or the embedded default)")
    parser.add_argument(
        "--merged", help="an ECLM-merged checkpoint from `fasthmr merge` (replaces --checkpoint)"
    )
    parser.add_argument("--token-merging", action="store_true", help="Mask-ToMe on (schedule below)")
    parser.add_argument(
        "--token-schedule", default="40,40,22", help="tokens merged per layer (default 40,40,22)"
    )
    parser.add_argument("--mask-source", choices=MASK_SOURCES, default="auto", help="Mask-ToMe's person mask")
    parser.add_argument("--decoder", choices=DECODERS, default="regression", help="pose decoder")
    parser.add_argument("--decoder-model", help="checkpoint of the chosen diffusion / GenHMR decoder")
    parser.add_argument(
        "--genhmr-iterations", type=int, default=5, help="GenHMR's sampling iterations T (default 5)"
    )
    parser.add_argument(
        "--refinement-budget-ms",
        type=float,
        default=50.0,
        help="GenHMR refinement time per frame (0: all steps, reproducible; default 50)",
    )
    parser.add_argument(
        "--keypoints-noise",
        type=float,
        help="hand the pipeline COCO-17 2D keypoints: the true ones plus Gaussian noise of this "
        "fraction of the box height per coordinate (GenHMR refines with them; 0: exact)",
    )
    parser.add_argument("--keypoints-seed", type=int, default=0, help="seed of the keypoint noise")
    parser.add_argument(
        "--smpl", help="body model (default: found SMPL, else the stand-in the data was made with)"
    )
    parser.add_argument("--limit", type=int, help="evaluate only the first N images")
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--backend",
        default="cpu",
        help="inference backend (auto, torch, onnxruntime, tensorrt, cpu), as the node",
    )
    parser.add_argument("--precision", default="fp32", help="fp32, fp16, bf16 or int8 (see docs/runtime.md)")
    parser.add_argument("--json", required=True, help="report to write; the plot goes beside it (.png)")
    parser.add_argument("--label", default="", help="title of the plot and name in the report")


def run(args: argparse.Namespace) -> int:
    from fasthmr_ros.config import DecoderConfig, GenHMRConfig, MergingConfig, RuntimeConfig
    from fasthmr_ros.errors import InputError
    from fasthmr_ros.evaluation import accuracy, evaluation_pipeline, mean_pose_of, run_pipeline
    from fasthmr_ros.evaluation.keypoints import noisy_keypoints
    from fasthmr_ros.evaluation.report import plot, table
    from fasthmr_ros.runtime.estimator import use_backend
    from fasthmr_ros.runtime.select import choose_backend, probe_capabilities
    from fasthmr_ros.samples.dataset import read_labelled_set

    if args.merged and args.checkpoint:
        raise InputError("give --checkpoint or --merged, not both")
    dataset = read_labelled_set(args.data)
    merging = None
    if args.token_merging:
        try:
            schedule = [int(v) for v in args.token_schedule.split(",") if v.strip()]
        except ValueError as exc:
            raise InputError(
                f"--token-schedule expects integers like 40,40,22, got {args.token_schedule!r}"
            ) from exc
        merging = MergingConfig(token_schedule=schedule, mask_source=args.mask_source)
    decoder = DecoderConfig(decoder=args.decoder)
    if args.decoder_model:
        setattr(decoder, f"{args.decoder}_model", args.decoder_model)
    genhmr = GenHMRConfig()
    genhmr.sampling.iterations = args.genhmr_iterations
    genhmr.refinement.time_budget_ms = args.refinement_budget_ms
    pipeline = evaluation_pipeline(
        args.merged or args.checkpoint, args.smpl, args.device, decoder, merging, genhmr
    )
    runtime = RuntimeConfig(backend=args.backend, precision=args.precision, device=args.device)
    caps = probe_capabilities()
    backend = use_backend(pipeline, runtime, choose_backend(runtime, caps), caps)
    body = pipeline.estimator.body
    keypoints = None
    if args.keypoints_noise is not None:
        keypoints = noisy_keypoints(dataset, body, args.keypoints_noise, args.keypoints_seed)
    estimates = run_pipeline(pipeline, dataset, args.limit, keypoints=keypoints)
    report = accuracy(estimates, dataset, body, mean_pose_of(pipeline.estimator.model))
    model_cfg = pipeline.estimator.model.config
    report.update(
        label=args.label,
        data=str(args.data),
        model=pipeline.model_description,
        body_model=pipeline.body_description,
        layers=model_cfg.backbone.depth,
        merge_plan=model_cfg.merge_plan,
        token_merging=None
        if merging is None
        else {"schedule": merging.token_schedule, "mask_source": merging.mask_source},
        decoder=args.decoder,
        genhmr=None
        if args.decoder != "genhmr"
        else {"iterations": args.genhmr_iterations, "refinement_budget_ms": args.refinement_budget_ms},
        keypoints_noise=args.keypoints_noise,
        backend=backend.as_dict(),
    )
    print(table(report))
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1) + "\n")
    title = args.label or f"{Path(args.data).name}: {pipeline.model_description}"
    try:
        picture = plot(report, out.with_suffix(".png"), title)
    except ModuleNotFoundError as exc:  # the plot is an optional extra; the report is complete without it
        if exc.name is None or exc.name.split(".")[0] != "matplotlib":
            raise
        print(f"wrote {out}; no plot: matplotlib is not installed (pip install 'fasthmr_ros[plot]')")
        return 0
    print(f"wrote {out}, {picture}")
    return 0
