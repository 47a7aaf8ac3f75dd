"""The one typed home of every setting.

`config/*.yaml`, launch arguments and CLI flags all fill these dataclasses, so a value has a
single name, type and default wherever it is set. Sections are plain dataclasses (no framework)
so they serialise into checkpoints and JSON reports as-is.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import yaml

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

T = TypeVar("T", bound="DataclassInstance")

PARAM = "node_parameter"  # field metadata key: the field as a live node parameter (`ParamSpec`)
MIRRORS = "mirrors"  # NodeConfig field metadata key: (section class, field name) the field sets


@dataclass(frozen=True)
class ParamSpec:
    """How a setting appears as a node parameter: description, range, allowed values, and
    whether it may change while the node runs (else it is read at configure)."""

    description: str
    low: float | None = None  # numeric range (inclusive); None = unbounded on that side
    high: float | None = None
    choices: tuple[str, ...] = ()  # allowed strings, when the set is closed
    runtime: bool = False


def param(
    description: str,
    low: float | None = None,
    high: float | None = None,
    choices: tuple[str, ...] = (),
    runtime: bool = False,
) -> dict[str, ParamSpec]:
    """Field metadata declaring a node parameter: `field(default=..., metadata=param(...))`."""
    return {PARAM: ParamSpec(description, low, high, choices, runtime)}


def mirror(section: type, name: str) -> Any:
    """A NodeConfig field that sets `section.name`: its default, description and range are that
    field's, so they are written once. None becomes "" (ROS parameters cannot be None)."""
    source = next(f for f in dataclasses.fields(section) if f.name == name)
    default = "" if source.default is None else source.default
    return field(default=default, metadata={PARAM: source.metadata[PARAM], MIRRORS: (section, name)})


@dataclass
class BackboneConfig:
    """ViTPose-style plain ViT. `depth` counts blocks after any layer merging."""

    embed_dim: int = 1280
    depth: int = 32
    num_heads: int = 16
    mlp_ratio: float = 4.0
    patch_size: int = 16
    patch_padding: int = 2
    img_height: int = 256
    img_width: int = 192
    norm_eps: float = 1e-6


@dataclass
class HeadConfig:
    """HMR 2.0 transformer-decoder head (one query token, cross-attends to image tokens).

    `kind` is `hmr2` (zero query token) or `camerahmr` (CLIFF-style query token built from
    bbox_info + mean parameters, and an extra 2D-keypoint readout).
    """

    kind: str = "hmr2"
    dim: int = 1024
    depth: int = 6
    heads: int = 8
    dim_head: int = 64
    mlp_dim: int = 1024
    norm_eps: float = 1e-5
    num_body_joints: int = 23
    num_betas: int = 10
    num_keypoints_2d: int = 44


@dataclass
class ModelConfig:
    """Architecture of one HMR model: enough to rebuild it from a state dict."""

    preset: str = "vit_h"
    backbone: BackboneConfig = field(default_factory=BackboneConfig)
    head: HeadConfig = field(default_factory=HeadConfig)
    # Layer-merging plan applied to this model's backbone (ECLM): list of [first, last] windows
    # of the original layers that became one layer. Empty for an unmerged model.
    merge_plan: list[list[int]] = field(default_factory=list)
    original_depth: int | None = None


def _preset(
    embed: int, depth: int, heads: int, head: HeadConfig | None = None, name: str = ""
) -> ModelConfig:
    return ModelConfig(
        preset=name,
        backbone=BackboneConfig(embed_dim=embed, depth=depth, num_heads=heads),
        head=head or HeadConfig(),
    )


MODEL_PRESETS: dict[str, ModelConfig] = {
    # HMR 2.0 / CameraHMR (ViTPose-H): 630.9 M backbone parameters.
    "vit_h": _preset(1280, 32, 16, name="vit_h"),
    # Same structure, ViT-B and ViT-S widths: for CPUs and small GPUs once trained/distilled.
    "vit_b": _preset(768, 12, 12, name="vit_b"),
    "vit_s": _preset(384, 12, 6, HeadConfig(dim=512, depth=4, heads=8, dim_head=64, mlp_dim=512), "vit_s"),
    # The embedded default: trained on the CPU in minutes (`fasthmr train-hmr`), a few MB of weights.
    "vit_xs": _preset(96, 4, 3, HeadConfig(dim=96, depth=2, heads=3, dim_head=32, mlp_dim=192), "vit_xs"),
    # Tests: runs in milliseconds on a CPU.
    "tiny": _preset(64, 4, 2, HeadConfig(dim=64, depth=2, heads=2, dim_head=16, mlp_dim=64), "tiny"),
}


def model_preset(name: str) -> ModelConfig:
    """A fresh copy of a named architecture preset."""
    if name not in MODEL_PRESETS:
        raise ValueError(f"unknown model preset {name!r}; choose one of {sorted(MODEL_PRESETS)}")
    return from_dict(ModelConfig, to_dict(MODEL_PRESETS[name]))


def to_dict(obj: Any) -> dict[str, Any]:
    """Dataclass -> plain nested dict (JSON/YAML/checkpoint safe)."""
    return dataclasses.asdict(obj)


def from_dict(cls: type[T], data: dict[str, Any] | None) -> T:
    """Plain dict -> dataclass, recursing into nested dataclass fields.

    Unknown keys are an error that names them, so a typo in a YAML file is never silently ignored.
    """
    data = dict(data or {})
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ValueError(f"unknown {cls.__name__} settings: {unknown}; known: {sorted(fields)}")
    kwargs = {}
    hints = _resolved_types(cls)
    for name, value in data.items():
        target = hints.get(name)
        if isinstance(target, type) and dataclasses.is_dataclass(target) and isinstance(value, dict):
            value = from_dict(target, value)
        kwargs[name] = value
    return cls(**kwargs)


def _resolved_types(cls: type) -> dict[str, Any]:
    import typing

    return typing.get_type_hints(cls)


def load_yaml_section(path: str | Path, cls: type[T], section: str | None = None) -> T:
    """Read one dataclass from a YAML file (optionally from a top-level section of it)."""
    with open(path, encoding="utf-8") as f:
        data = yaml.safe_load(f) or {}
    if section is not None:
        data = data.get(section, {})
    return from_dict(cls, data)


@dataclass
class MergingConfig:
    """Mask-ToMe token merging at inference time (FastHMR §3.2). No weights depend on it.

    Layer merging (ECLM) is not here: it changes the weights, so it lives in a checkpoint's
    `ModelConfig.merge_plan`.
    """

    # Tokens merged after the attention of blocks 0, 1, 2, ...: the paper's 192 -> 152 -> 112 -> 90.
    # An empty list switches token merging off (the model is then bit-identical to the unmerged one).
    token_schedule: list[int] = field(default_factory=lambda: [40, 40, 22])
    # Alternative to token_schedule: reach this many tokens, spread evenly over `target_layers`.
    target_tokens: int | None = None
    target_layers: int = 3
    # Which person mask protects tokens: auto (segmentation, else tracked silhouette, else box),
    # segmentation, silhouette, box, or none (plain ToMe).
    mask_source: str = "auto"
    # A patch is a person patch when at least this fraction of its pixels is person.
    mask_threshold: float = 0.25
    # The previous frame's silhouette is grown by this many crop pixels to cover the motion.
    silhouette_dilate_px: int = 4


@dataclass
class DiffusionConfig:
    """FastHMR's temporal diffusion decoder (§3.3): motion VAE + latent denoiser.

    Architecture and schedule; stored in every checkpoint so a model rebuilds from its file.
    Defaults are the paper's sizes (window 243 -> latent 27 x 512; VAE 9 layers, denoiser 5).
    """

    preset: str = "paper"
    window: int = 243  # frames per decoded window
    fps: float = 30.0  # frame rate the motion prior is trained at
    latent_tokens: int = 27
    latent_dim: int = 512
    feature_dim: int = 1024  # per-frame conditioning feature (the head token) width
    vae_width: int = 512
    vae_layers: int = 9  # each of encoder and decoder
    vae_heads: int = 4
    vae_ff: int = 1024
    denoiser_width: int = 512
    denoiser_layers: int = 5  # odd: (n-1)/2 in, 1 middle, (n-1)/2 out with long skips
    denoiser_heads: int = 4
    denoiser_ff: int = 1024
    dropout: float = 0.1
    timesteps: int = 1000
    beta_start: float = 0.00085
    beta_end: float = 0.012
    kl_weight: float = 1e-4


DIFFUSION_PRESETS: dict[str, DiffusionConfig] = {
    "paper": DiffusionConfig(),
    # The evidence experiment: trains on the CPU in minutes on synthetic motion.
    "small": DiffusionConfig(
        preset="small",
        window=32,
        latent_tokens=8,
        latent_dim=64,
        feature_dim=144,
        vae_width=96,
        vae_layers=3,
        vae_heads=4,
        vae_ff=192,
        denoiser_width=96,
        denoiser_layers=3,
        denoiser_heads=4,
        denoiser_ff=192,
        dropout=0.0,
    ),
    # Tests: milliseconds per step.
    "tiny": DiffusionConfig(
        preset="tiny",
        window=16,
        latent_tokens=4,
        latent_dim=8,
        feature_dim=64,
        vae_width=32,
        vae_layers=1,
        vae_heads=2,
        vae_ff=64,
        denoiser_width=32,
        denoiser_layers=3,
        denoiser_heads=2,
        denoiser_ff=64,
        dropout=0.0,
        timesteps=100,
    ),
}


def diffusion_preset(name: str) -> DiffusionConfig:
    """A fresh copy of a named diffusion-decoder preset."""
    if name not in DIFFUSION_PRESETS:
        raise ValueError(f"unknown diffusion preset {name!r}; choose one of {sorted(DIFFUSION_PRESETS)}")
    return from_dict(DiffusionConfig, to_dict(DIFFUSION_PRESETS[name]))


DECODERS = ("regression", "one_euro", "diffusion", "genhmr")
BACKENDS = ("auto", "tensorrt", "torch", "onnxruntime", "cpu")
PRECISIONS = ("fp32", "fp16", "bf16", "int8")


@dataclass
class DecoderConfig:
    """Which pose decoder runs after the base head, and where its model lives.

    Shape and camera always come from the base head; only the pose is replaced.
    """

    decoder: str = field(
        default="regression", metadata=param("pose decoder", choices=DECODERS)
    )
    diffusion_model: str = ""  # checkpoint from `fasthmr train-decoder denoiser`
    genhmr_model: str = ""  # checkpoint from the GenHMR trainer
    # Diffusion decoder at run time: emit the pose of frame t-k using k future frames (0 = causal).
    lookahead: int = field(
        default=0, metadata=param("diffusion decoder: frames of delay traded for smoothness", 0, 1024)
    )
    sample_steps: int = field(
        default=1, metadata=param("diffusion decoder: denoising steps (the paper uses one)", 1, 1000)
    )
    min_history: int = 4  # frames a track needs before the diffusion decoder takes over
    # One-Euro filter (`decoder: one_euro`, decoders/one_euro.py): cut-off at rest, how fast the
    # cut-off rises with joint speed, the cut-off of the speed estimate, and the frame rate
    # assumed where stamps give no time step.
    one_euro_min_cutoff: float = field(
        default=0.5, metadata=param("One-Euro filter: cut-off frequency at rest, Hz", 1e-3, 1000.0)
    )
    one_euro_beta: float = field(
        default=0.0, metadata=param("One-Euro filter: cut-off increase per unit of joint speed", 0.0, 1e4)
    )
    one_euro_d_cutoff: float = field(
        default=1.0, metadata=param("One-Euro filter: cut-off of the speed estimate, Hz", 1e-3, 1000.0)
    )
    one_euro_frame_rate: float = field(
        default=30.0,
        metadata=param("One-Euro filter: frame rate used where stamps give no step", 0.1, 1000.0),
    )


DETECTION_MODES = ("auto", "upstream", "onnx", "fixed")


@dataclass
class TrackerConfig:
    """IoU + Hungarian tracker (pipeline/tracking.py)."""

    iou_threshold: float = field(
        default=0.3,
        metadata=param("least IoU between a predicted track box and a detection", 0.01, 1.0, runtime=True),
    )
    min_hits: int = 1  # matches before a track is confirmed and reported (3 for noisy detectors)
    max_age: int = field(
        default=30,
        metadata=param("frames a lost track coasts before it (and its history) is dropped", 0, 1000),
    )
    velocity_gain: float = 0.5  # how fast the constant-velocity estimate follows new boxes


@dataclass
class PipelineConfig:
    """Per-frame perception: models, detection, tracking, history and what goes into the results."""

    checkpoint: str | None = field(
        default=None,
        metadata=param(
            "HMR 2.0 / CameraHMR / own checkpoint; empty = 4D-Humans cache, else the embedded default"
        ),
    )
    smpl: str | None = field(
        default=None,
        metadata=param("SMPL_NEUTRAL.pkl; empty = 4D-Humans cache, else the generated stand-in body"),
    )
    j19: str | None = field(
        default=None, metadata=param("SMPL_to_J19.pkl for HMR 2.0's 44 joints; empty = 4D-Humans cache")
    )
    device: str = "cpu"  # where the chosen backend runs (`RuntimeConfig.device` asks for one)

    # auto: upstream boxes when a frame brings them, else the ONNX detector when
    # `detector_model` is set, else `fixed_region`. The others force one source.
    detection: str = field(
        default="auto",
        metadata=param("where person boxes come from", choices=("auto", "upstream", "onnx", "fixed")),
    )
    detector_model: str | None = field(
        default=None, metadata=param("Ultralytics YOLO detect/segment/pose ONNX person detector")
    )
    detector_task: str = "auto"  # auto (model metadata, then output shapes) | detect | segment | pose
    detector_input_size: int = 640  # used only when the ONNX input size is dynamic
    # Run the detector every N frames; in between, boxes come from the previous frame's
    # projected joints (moved by the track velocity).
    detect_every: int = field(
        default=1, metadata=param("run the detector every N frames, propagate boxes in between", 1, 1000)
    )
    score_threshold: float = field(
        default=0.35, metadata=param("least detection score of a person", 0.0, 1.0, runtime=True)
    )
    nms_iou: float = field(
        default=0.6,
        metadata=param("non-maximum suppression IoU of the built-in detector", 0.0, 1.0, runtime=True),
    )
    mask_threshold: float = 0.5  # segment models: mask probability that counts as person
    person_class_ids: list[int] = field(default_factory=lambda: [0])
    fixed_region: list[float] = field(default_factory=lambda: [0.0, 0.0, 1.0, 1.0])  # fractions
    # Joint extent -> person box before a detection has shown how the two relate: each side
    # grows by this fraction of the extent.
    propagate_margin: float = 0.1
    min_box_size: float = field(
        default=16.0, metadata=param("smallest person box side (pixels)", 0.0, 4096.0, runtime=True)
    )
    max_persons: int = field(
        default=8, metadata=param("best-scoring persons processed per frame (bounds the model batch)", 1, 64)
    )
    keypoint_model: str | None = None  # YOLO-pose ONNX for 2D keypoints (GenHMR refinement)
    tracker: TrackerConfig = field(default_factory=TrackerConfig)
    history_window: int = field(
        default=16, metadata=param("frames of per-track history kept for temporal decoders", 1, 1024)
    )
    output_vertices: bool = False  # 6890 x 3 float32 per person in the results


@dataclass
class OutputTopicsConfig:
    """Where results go (bag tool and live node alike). Relative names resolve in the node's
    namespace; a bag has none, so there they resolve in /."""

    humans: str = field(
        default="fasthmr/humans", metadata=param("fasthmr_ros/HumanMeshArray output, one per processed image")
    )
    mesh: str = field(
        default="fasthmr/mesh",
        metadata=param("shape_msgs/Mesh with the fixed SMPL triangles (transient local)"),
    )
    markers: str = field(
        default="fasthmr/markers",
        metadata=param("visualization_msgs/MarkerArray for RViz (mesh and skeleton)"),
    )


@dataclass
class MessagesConfig:
    """What goes into the output messages."""

    publish_vertices: bool = field(
        default=False, metadata=param("put the 6890 vertices (float32, 83 kB per person) in every HumanMesh")
    )
    mesh_markers: bool = field(
        default=True,
        metadata=param("include a TRIANGLE_LIST mesh per person in the markers (~1 MB each)", runtime=True),
    )
    marker_lifetime_s: float = field(
        default=0.5, metadata=param("markers of a lost person vanish after this long (s)", 0.0, 10.0)
    )
    ros_store: str = field(
        default="jazzy",
        metadata=param("ROS 2 distro whose message definitions are used", choices=("humble", "jazzy")),
    )

    def needs_vertices(self) -> bool:
        """Whether these messages use the mesh vertices (the one rule the bag tool and the node
        follow): mesh markers draw them, `publish_vertices` sends them."""
        return self.publish_vertices or self.mesh_markers


@dataclass
class BagConfig:
    """`fasthmr bag`: which input topics, how to pair them, what to write."""

    image_topic: str = ""  # "" = the bag's only Image / CompressedImage topic
    camera_info_topic: str = ""  # "" = camera_info next to the image topic, else the only one
    # vision_msgs/Detection2DArray boxes: "" = the bag's only such topic if it has exactly one,
    # "none" = ignore upstream boxes (the pipeline detects)
    detections_topic: str = ""
    slop_s: float = 0.05  # largest stamp difference for image / camera_info / detections pairing
    storage: str = "mcap"  # output storage: "mcap" | "sqlite3"
    use_default_intrinsics: bool = field(
        default=False,
        metadata=param(
            "no usable CameraInfo: use HMR 2.0's focal guess instead of skipping the frame (counted)"
        ),
    )
    outputs: OutputTopicsConfig = field(default_factory=OutputTopicsConfig)
    messages: MessagesConfig = field(default_factory=MessagesConfig)
    # Several cameras, robot frame and ROS4HRI (same meaning as the node's parameters of these
    # names). `cameras` replaces image_topic / camera_info_topic; outputs go per camera.
    cameras: str = ""
    target_frame: str = ""  # "" = the camera frame; else from the bag's own /tf and /tf_static
    tf_tolerance_s: float = 0.1  # a transform this close beyond the recorded ones still counts
    hri: bool = False  # also write ROS4HRI (REP-155) body topics and body_<id> TF frames


@dataclass
class GenHMRTokenizerConfig:
    """VQ-VAE over the 21 SMPL body-joint rotations (6D). Defaults: GenHMR's 96 tokens, 2048 x 256."""

    num_joints: int = 21
    num_tokens: int = 96
    codebook_size: int = 2048
    code_dim: int = 256
    hidden_dim: int = 512
    num_res_blocks: int = 3
    ema_decay: float = 0.99
    commitment_weight: float = 0.25
    # Weight of the joint-position MSE (metres^2, 24 joints at the template shape) next to the
    # rotation MSE; higher values fit joint positions at the expense of leaf-joint twists.
    joint_loss_weight: float = 1.0
    # A code whose EMA usage count falls below this is re-seeded from a random encoder output.
    dead_code_threshold: float = 1.0


@dataclass
class GenHMRTransformerConfig:
    """Image-conditioned masked transformer over pose tokens (sizes are our choice: the paper is silent)."""

    dim: int = 512
    depth: int = 6
    heads: int = 8
    mlp_dim: int = 2048
    dropout: float = 0.1
    context_dim: int = 1280  # backbone token width (1280 for ViT-H)
    head_token_dim: int = 1024  # regression head query width; 0 = do not use it as context
    orient_weight: float = 1.0  # training weight of the global-orientation regression loss


@dataclass
class GenHMRSamplingConfig:
    """Uncertainty-guided iterative decoding (MaskGIT-style, cosine schedule)."""

    iterations: int = 5
    temperature: float = 1.0
    # "argmax": reproducible, no sampling noise between frames; "sample": draw from the softmax.
    mode: str = "argmax"
    seed: int | None = None


@dataclass
class GenHMRRefinementConfig:
    """2D pose-guided refinement of the continuous token embeddings."""

    enabled: bool = True
    steps: int = 10
    lr: float = 0.1  # Adam step on the input embeddings (initialised N(0, 1))
    reprojection_weight: float = 1.0
    prior_weight: float = 0.1  # keeps the pose near the sampled one (rotation-matrix distance)
    embedding_weight: float = 0.0  # optional pull of the embeddings towards their start
    soft_temperature: float = 1.0  # softmax temperature of the token probabilities -> soft codes
    min_keypoint_confidence: float = 0.3
    time_budget_ms: float = 50.0  # per frame; remaining steps are skipped once exceeded (0 = none)


@dataclass
class GenHMRConfig:
    """GenHMR's architecture (for training) and its sampling and refinement settings (at run time).

    The checkpoint itself is `DecoderConfig.genhmr_model`.
    """

    tokenizer: GenHMRTokenizerConfig = field(default_factory=GenHMRTokenizerConfig)
    transformer: GenHMRTransformerConfig = field(default_factory=GenHMRTransformerConfig)
    sampling: GenHMRSamplingConfig = field(default_factory=GenHMRSamplingConfig)
    refinement: GenHMRRefinementConfig = field(default_factory=GenHMRRefinementConfig)


GENHMR_PRESETS: dict[str, GenHMRConfig] = {
    # GenHMR's reported tokenizer (96 tokens, 2048 x 256); transformer sizes are our choice.
    "paper": GenHMRConfig(),
    # CPU-trained miniature (the synthetic world's tables): minutes on 2 cores.
    "small": GenHMRConfig(
        tokenizer=GenHMRTokenizerConfig(
            num_tokens=16, codebook_size=256, code_dim=64, hidden_dim=128, num_res_blocks=2
        ),
        transformer=GenHMRTransformerConfig(dim=128, depth=3, heads=4, mlp_dim=256, dropout=0.1),
    ),
    # CPU smoke runs and tests: trains in seconds.
    "tiny": GenHMRConfig(
        tokenizer=GenHMRTokenizerConfig(
            num_tokens=8, codebook_size=128, code_dim=32, hidden_dim=64, num_res_blocks=2
        ),
        transformer=GenHMRTransformerConfig(dim=64, depth=2, heads=2, mlp_dim=128, dropout=0.0),
    ),
}


def genhmr_preset(name: str) -> GenHMRConfig:
    """A fresh copy of a named GenHMR preset."""
    if name not in GENHMR_PRESETS:
        raise ValueError(f"unknown GenHMR preset {name!r}; choose one of {sorted(GENHMR_PRESETS)}")
    return from_dict(GenHMRConfig, to_dict(GENHMR_PRESETS[name]))


@dataclass
class RuntimeConfig:
    """How the network runs: which backend, at what precision, on which device.

    `backend`: auto (TensorRT if installed and a CUDA GPU is present, else torch on CUDA, else the
    fastest CPU path within an accuracy bound), tensorrt, torch (on `device`), onnxruntime (CUDA
    provider if present, else CPU) or cpu.
    A backend named explicitly that cannot run here is an error, never a silent substitute.
    """

    backend: str = field(
        default="auto",
        metadata=param(
            "inference backend; auto picks TensorRT, then torch on CUDA, then CPU",
            choices=BACKENDS,
        ),
    )
    # On the CPU: fp32, bf16, int8 (onnxruntime: fp32, int8); anything else runs fp32, and the
    # selection reason says so.
    precision: str = field(
        default="fp16",
        metadata=param(
            "inference precision (CPU: fp32, bf16, int8; docs/runtime.md)",
            choices=PRECISIONS,
        ),
    )
    device: str = field(
        default="cuda",
        metadata=param("torch device the backend should use (cuda, cuda:1, cpu); auto falls back to the CPU"),
    )
    # torch backend only: torch.compile the model, and capture the fixed-shape path as a CUDA graph.
    compile: bool = False
    cuda_graphs: bool = False
    engine_cache_dir: str | None = field(
        default=None, metadata=param("TensorRT engines / exported ONNX; empty = the package cache")
    )
    # Crops per forward for the fixed-shape backends (TensorRT, CUDA graphs); more are split,
    # fewer are padded.
    batch: int = 1
    # TensorRT builder workspace limit.
    workspace_gb: float = 4.0
    # Calibration crops (.npz, key `crops` (N, 3, 256, 256)) for an INT8 TensorRT engine.
    int8_calibration: str | None = None


@dataclass
class NodeConfig:
    """The live node (`fasthmr node`, `ros2 launch fasthmr_ros fasthmr.launch.py`).

    Flat on purpose: every field is one ROS parameter of the same name (ROS parameters cannot
    be None, so "" means "not set" for paths and topics). Each field carries its `ParamSpec`
    (description, range, run-time changeability) as metadata; a field that sets a setting of
    another section is a `mirror` of it, taking that field's default and description, and
    `fasthmr_ros.ros.node.setup` fills the sections from the mirrors. `config/fasthmr.yaml`
    carries every field with its default (a test holds them equal).
    """

    # Inputs. Relative names resolve in the node's namespace.
    image_topic: str = field(
        default="/camera/image_raw", metadata=param("sensor_msgs/Image (or CompressedImage) input topic")
    )
    compressed_input: bool = field(
        default=False, metadata=param("the image topic carries sensor_msgs/CompressedImage (jpeg/png)")
    )
    camera_info_topic: str = field(
        default="/camera/camera_info", metadata=param("sensor_msgs/CameraInfo of the image topic")
    )
    detections_topic: str = field(
        default="",
        metadata=param(
            "vision_msgs/Detection2DArray person boxes from an upstream detector; empty = find people here"
        ),
    )
    # best_effort (REP-2003's sensor data) matches best-effort and reliable cameras; reliable
    # matches only reliable ones, but lets large raw images arrive whole.
    image_reliability: str = field(
        default="best_effort",
        metadata=param(
            "QoS reliability of the input subscriptions: best_effort (REP-2003 sensor data, matches every "
            "camera) or reliable (only reliable cameras; large raw images arrive whole)",
            choices=("best_effort", "reliable"),
        ),
    )
    queue_depth: int = field(
        default=5, metadata=param("keep-last QoS depth of the input subscriptions", 1, 100)
    )
    slop_s: float = field(
        default=0.05,
        metadata=param(
            "largest stamp difference (s) between paired image, camera info, detections", 0.0, 1.0
        ),
    )
    # No CameraInfo yet, none near the image's stamp, or an unusable one (an uncalibrated
    # driver's zero K).
    use_default_intrinsics: bool = mirror(BagConfig, "use_default_intrinsics")
    # Outputs.
    humans_topic: str = mirror(OutputTopicsConfig, "humans")
    mesh_topic: str = mirror(OutputTopicsConfig, "mesh")
    markers_topic: str = mirror(OutputTopicsConfig, "markers")
    marker_rate_hz: float = field(
        default=2.0, metadata=param("publish markers at most this often; 0 = never", 0.0, 60.0, runtime=True)
    )
    mesh_markers: bool = mirror(MessagesConfig, "mesh_markers")
    marker_lifetime_s: float = mirror(MessagesConfig, "marker_lifetime_s")
    publish_vertices: bool = mirror(MessagesConfig, "publish_vertices")
    publish_tf: bool = field(
        default=False,
        metadata=param(
            "broadcast a TF frame <tf_prefix>b<track id> per person (REP-155 body id)", runtime=True
        ),
    )
    tf_prefix: str = field(
        default="body_", metadata=param("prefix of the per-person TF frames (REP-155: body_)")
    )
    diagnostics_rate_hz: float = field(
        default=1.0, metadata=param("diagnostics publishing rate (Hz)", 0.1, 10.0)
    )
    ros_store: str = mirror(MessagesConfig, "ros_store")
    # Model and where it runs.
    checkpoint: str = mirror(PipelineConfig, "checkpoint")
    smpl: str = mirror(PipelineConfig, "smpl")
    j19: str = mirror(PipelineConfig, "j19")
    backend: str = mirror(RuntimeConfig, "backend")
    device: str = mirror(RuntimeConfig, "device")
    precision: str = mirror(RuntimeConfig, "precision")
    engine_cache_dir: str = mirror(RuntimeConfig, "engine_cache_dir")
    cpu_threads: int = field(default=0, metadata=param("torch intra-op threads; 0 = torch's default", 0, 256))
    decoder: str = mirror(DecoderConfig, "decoder")
    decoder_model: str = field(default="", metadata=param("checkpoint of the diffusion or GenHMR decoder"))
    lookahead: int = mirror(DecoderConfig, "lookahead")
    sample_steps: int = mirror(DecoderConfig, "sample_steps")
    one_euro_min_cutoff: float = mirror(DecoderConfig, "one_euro_min_cutoff")
    one_euro_beta: float = mirror(DecoderConfig, "one_euro_beta")
    one_euro_d_cutoff: float = mirror(DecoderConfig, "one_euro_d_cutoff")
    one_euro_frame_rate: float = mirror(DecoderConfig, "one_euro_frame_rate")
    token_merging: bool = field(
        default=False, metadata=param("Mask-ToMe token merging with MergingConfig's default schedule")
    )
    # Detection and tracking.
    detection: str = mirror(PipelineConfig, "detection")
    detector_model: str = mirror(PipelineConfig, "detector_model")
    detect_every: int = mirror(PipelineConfig, "detect_every")
    max_persons: int = mirror(PipelineConfig, "max_persons")
    score_threshold: float = mirror(PipelineConfig, "score_threshold")
    nms_iou: float = mirror(PipelineConfig, "nms_iou")
    min_box_size: float = mirror(PipelineConfig, "min_box_size")
    tracker_iou_threshold: float = mirror(TrackerConfig, "iou_threshold")
    tracker_max_age: int = mirror(TrackerConfig, "max_age")
    history_window: int = mirror(PipelineConfig, "history_window")
    # Robot integration: several cameras, the robot's frame, ROS4HRI.
    # "" = the one camera of image_topic / camera_info_topic. Else several cameras, comma or space
    # separated, each a namespace (`/front` = /front/image_raw + /front/camera_info) or an
    # `image_topic:camera_info_topic` pair; their crops share one forward pass.
    cameras: str = field(
        default="",
        metadata=param(
            "several cameras: namespaces or image_topic:camera_info_topic pairs; empty = image_topic only"
        ),
    )
    target_frame: str = field(
        default="",
        metadata=param(
            "frame of the 3D outputs, markers and TF (from /tf and /tf_static); empty = the camera frame"
        ),
    )
    tf_tolerance_s: float = field(
        default=0.1, metadata=param("accept a transform this far (s) beyond the newest one", 0.0, 10.0)
    )
    hri: bool = field(
        default=False, metadata=param("publish ROS4HRI (REP-155) body topics and body TF frames")
    )


def mirrored(cfg: NodeConfig, section: type) -> dict[str, Any]:
    """The values of `cfg`'s mirrors of `section`, by their names there ("" back to None where
    the section's default is None): keyword arguments for that section."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(cfg):
        target = f.metadata.get(MIRRORS)
        if target is None or target[0] is not section:
            continue
        source = next(s for s in dataclasses.fields(section) if s.name == target[1])
        value = getattr(cfg, f.name)
        out[target[1]] = None if source.default is None and value == "" else value
    return out


def load_node_config(path: str | Path) -> NodeConfig:
    """A ROS 2 parameters file (`<node or /**>: ros__parameters: {...}`) or a plain mapping.

    The first `ros__parameters` block found is used, so the same file serves `ros2 launch` and
    `fasthmr node --params`.
    """
    with open(path, encoding="utf-8") as f:
        data = yaml.safe_load(f) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping at the top level")
    for value in data.values():
        if isinstance(value, dict) and "ros__parameters" in value:
            return from_dict(NodeConfig, value["ros__parameters"])
    return from_dict(NodeConfig, data)
