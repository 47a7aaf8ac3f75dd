"""Generated sample inputs: a camera, walking people, and images of them on a synthetic scene.

Why: no real footage or weights can ship with the package, yet the demo, the sample bags
and the tracker tests need people that move plausibly and overlap. Everything here is
deterministic given a seed. Bodies use the stand-in model unless another `BodyModel` is passed,
so these images show mannequins, not real people.

Frames: the camera optical frame (x right, y down, z forward, metres). The camera stands
`CAMERA_HEIGHT` above a flat floor and looks horizontally, so the floor is the plane y = CAMERA_HEIGHT.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from fasthmr_ros.assets.paths import standin_dir
from fasthmr_ros.models.body_model import BodyModel
from fasthmr_ros.models.standin import ensure_standin_assets, relaxed_pose
from fasthmr_ros.samples.mannequin import draw_mannequins, dress

CAMERA_HEIGHT = 1.3  # metres above the floor
# smplx rotates the body about the rest pelvis joint (at y = PELVIS_REST_Y in the model frame), and
# the pelvis stands PELVIS_HEIGHT above the soles (both about the same for the stand-in and SMPL's
# mean body). So transl_y = CAMERA_HEIGHT - PELVIS_HEIGHT - PELVIS_REST_Y puts an upright body's feet
# on the floor.
PELVIS_REST_Y = -0.223
PELVIS_HEIGHT = 0.95
STRIDE_LENGTH = 1.4  # metres per full gait cycle (two steps)
# Fixed clothing (BGR skin, above the waist, below the waist) of the sample people, in the style of
# the labelled world the embedded default was trained on (`samples.mannequin`).
_OUTFITS = (
    ((105, 125, 150), (60, 90, 170), (90, 70, 60)),
    ((140, 160, 185), (150, 120, 50), (60, 60, 70)),
    ((80, 95, 115), (70, 150, 90), (120, 110, 100)),
    ((125, 145, 170), (130, 60, 120), (50, 80, 110)),
)

Person = tuple[
    np.ndarray, np.ndarray, np.ndarray, np.ndarray
]  # orient (3,3), pose (23,3,3), betas (10,), transl (3,)


def sample_camera(width: int = 1280, height: int = 720) -> np.ndarray:
    """(3,3) intrinsics of a typical webcam (about 65 degrees horizontal field of view)."""
    f = 0.78 * width
    return np.array([[f, 0.0, width / 2.0], [0.0, f, height / 2.0], [0.0, 0.0, 1.0]])


def standin_body_model() -> BodyModel:
    """The stand-in body model (NOT SMPL), generated on first use into the cache, loaded once per cache."""
    return _load_standin(standin_dir())


@functools.lru_cache(maxsize=2)
def _load_standin(cache_dir: Path) -> BodyModel:
    assets = ensure_standin_assets(cache_dir)
    return BodyModel(assets.smpl, assets.j19)


def background_scene(width: int, height: int, K: np.ndarray) -> np.ndarray:
    """A wall gradient above the horizon and a gridded floor below it (BGR uint8)."""
    fx, fy, cx, cy = K[0, 0], K[1, 1], K[0, 2], K[1, 2]
    rows = np.arange(height, dtype=np.float32)[:, None]
    horizon = float(np.clip(cy, 0, height))
    wall_t = np.clip(rows / max(horizon, 1.0), 0, 1)
    floor_t = np.clip((rows - horizon) / max(height - horizon, 1.0), 0, 1)
    wall = (1 - wall_t) * np.array([205, 190, 170]) + wall_t * np.array([165, 160, 150])
    floor = (1 - floor_t) * np.array([95, 110, 120]) + floor_t * np.array([70, 85, 100])
    image = np.where(rows[..., None] < horizon, wall[:, None], floor[:, None]) * np.ones((1, width, 1))
    image = image.astype(np.uint8)

    def project(x: float, z: float) -> tuple[int, int]:
        return round(fx * x / z + cx), round(fy * CAMERA_HEIGHT / z + cy)

    grid = (150, 160, 170)
    for x in np.arange(-12.0, 12.5, 1.0):
        cv2.line(image, project(x, 0.5), project(x, 40.0), grid, 1, cv2.LINE_AA)
    for z in np.arange(1.0, 41.0, 1.0):
        cv2.line(image, project(-40.0, z), project(40.0, z), grid, 1, cv2.LINE_AA)
    return image


def _posed_vertices(persons: Sequence[Person], body_model: BodyModel | None) -> tuple[np.ndarray, BodyModel]:
    """(P, V, 3) camera-frame vertices of the persons, and the body model used."""
    model = body_model if body_model is not None else standin_body_model()
    orient = torch.as_tensor(np.stack([p[0] for p in persons]), dtype=torch.float32)[:, None]  # (P,1,3,3)
    pose = torch.as_tensor(np.stack([p[1] for p in persons]), dtype=torch.float32)  # (P,23,3,3)
    betas = torch.as_tensor(np.stack([p[2] for p in persons]), dtype=torch.float32)  # (P,10)
    with torch.no_grad():
        verts = model(orient, pose, betas).vertices.numpy().astype(np.float64)
    return verts + np.stack([np.asarray(p[3], dtype=np.float64) for p in persons])[:, None], model


def person_boxes(
    width: int, height: int, K: np.ndarray, persons: Sequence[Person], body_model: BodyModel | None = None
) -> np.ndarray:
    """(P, 4) ground-truth boxes x1,y1,x2,y2 of the projected bodies, clipped to the image."""
    if not persons:
        return np.zeros((0, 4))
    verts, _ = _posed_vertices(persons, body_model)
    uv = verts[..., :2] / verts[..., 2:3] * np.array([K[0, 0], K[1, 1]]) + np.array([K[0, 2], K[1, 2]])
    boxes = np.concatenate([uv.min(axis=1), uv.max(axis=1)], axis=1)
    return np.clip(boxes, 0, [width - 1, height - 1, width - 1, height - 1])


def render_person_image(width: int, height: int, K: np.ndarray, persons: Sequence[Person]) -> np.ndarray:
    """Posed stand-in bodies, dressed like the labelled world's, over the synthetic scene (BGR uint8,
    H x W x 3)."""
    image = background_scene(width, height, np.asarray(K, dtype=np.float64))
    if not persons:
        return image
    verts, _ = _posed_vertices(persons, None)
    colours = np.stack([dress(*map(np.asarray, _OUTFITS[i % len(_OUTFITS)])) for i in range(len(verts))])
    drawn, _ = draw_mannequins(image, verts, colours, K, ambient=0.35, gain=1.0)
    return np.clip(drawn, 0, 255).astype(np.uint8)


def _rot_x(a: np.ndarray) -> np.ndarray:
    """(...,) angles -> (...,3,3) rotations about x."""
    c, s = np.cos(a), np.sin(a)
    o, i = np.zeros_like(a), np.ones_like(a)
    return np.stack([np.stack([i, o, o], -1), np.stack([o, c, -s], -1), np.stack([o, s, c], -1)], -2)


def _rot_y(a: np.ndarray) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    o, i = np.zeros_like(a), np.ones_like(a)
    return np.stack([np.stack([c, o, s], -1), np.stack([o, i, o], -1), np.stack([-s, o, c], -1)], -2)


@dataclass
class SampleMotion:
    """People walking oval loops in front of the camera (they pass in front of one another)."""

    global_orient: np.ndarray  # (T,P,3,3) camera frame
    body_pose: np.ndarray  # (T,P,23,3,3)
    betas: np.ndarray  # (P,10)
    transl: np.ndarray  # (T,P,3) camera frame, metres
    fps: float

    @property
    def num_frames(self) -> int:
        return self.transl.shape[0]

    @property
    def num_persons(self) -> int:
        return self.transl.shape[1]

    def persons(self, frame: int) -> list[Person]:
        """The persons of one frame, ready for `render_person_image`."""
        return [
            (self.global_orient[frame, p], self.body_pose[frame, p], self.betas[p], self.transl[frame, p])
            for p in range(self.num_persons)
        ]


def gait_pose(phase: np.ndarray) -> np.ndarray:
    """(N,) gait phase (radians) -> (N,23,3,3) body pose: swinging legs and counter-swinging arms.

    SMPL local rotations: about x, positive turns a downward limb backwards (-z).
    """
    rest = relaxed_pose()[1:]  # (23,3,3); body_pose index = SMPL joint - 1
    pose = np.tile(rest, (len(phase), 1, 1, 1))
    swing = np.sin(phase)
    pose[:, 0] = _rot_x(-0.45 * swing)  # left hip forward while sin > 0
    pose[:, 1] = _rot_x(0.45 * swing)
    pose[:, 3] = _rot_x(0.1 + 0.6 * np.maximum(0.0, np.sin(phase + 0.8)))  # left knee
    pose[:, 4] = _rot_x(0.1 + 0.6 * np.maximum(0.0, np.sin(phase + np.pi + 0.8)))
    pose[:, 15] = _rot_x(0.35 * swing) @ rest[15]  # left shoulder swings against the left leg
    pose[:, 16] = _rot_x(-0.35 * swing) @ rest[16]
    pose[:, 2] = _rot_y(0.08 * swing)  # a little counter-rotation of the spine
    return pose


def sample_motion(num_frames: int, num_persons: int, seed: int = 0, fps: float = 30.0) -> SampleMotion:
    """Smooth walking-like motion of `num_persons` people over `num_frames` frames.

    Each person walks an oval on the floor (centre 3.5..6 m ahead, half-axes about 1.8 x 0.9 m)
    at about 1.2 m/s, facing where they go, gait phase tied to distance walked. The ovals overlap
    in the image, so people occlude and pass one another: what tracker tests need.
    """
    if num_frames < 1 or num_persons < 1:
        raise ValueError(f"need at least one frame and one person, got {num_frames} x {num_persons}")
    rng = np.random.default_rng(seed)
    t = np.arange(num_frames) / fps
    orient = np.zeros((num_frames, num_persons, 3, 3))
    pose = np.zeros((num_frames, num_persons, 23, 3, 3))
    transl = np.zeros((num_frames, num_persons, 3))
    betas = np.zeros((num_persons, 10))
    betas[:, :2] = rng.normal(0.0, 0.8, size=(num_persons, 2))
    root_y = CAMERA_HEIGHT - PELVIS_HEIGHT - PELVIS_REST_Y
    base = np.diag([1.0, -1.0, -1.0])  # model y-up, facing +z -> camera y-down, facing the camera
    for p in range(num_persons):
        centre_x = rng.uniform(-0.6, 0.6)
        centre_z = 3.5 + 2.5 * (p + rng.uniform(0.0, 1.0)) / num_persons
        a, b = rng.uniform(1.4, 2.2), rng.uniform(0.6, 1.1)
        speed = rng.uniform(1.0, 1.4)
        direction = 1.0 if p % 2 == 0 else -1.0
        # Angle along the oval from distance walked (speed / local radius, integrated numerically).
        theta = np.empty(num_frames)
        theta[0] = rng.uniform(0, 2 * np.pi)
        for k in range(1, num_frames):
            local = np.hypot(a * np.sin(theta[k - 1]), b * np.cos(theta[k - 1]))
            theta[k] = theta[k - 1] + direction * speed / fps / local
        x = centre_x + a * np.cos(theta)
        z = centre_z + b * np.sin(theta)
        dx = -direction * a * np.sin(theta)
        dz = direction * b * np.cos(theta)
        heading = _rot_y(np.arctan2(-dx, -dz))  # turns the facing direction (0,0,-1) onto (dx,0,dz)
        orient[:, p] = heading @ base
        distance = speed * t
        phase = 2 * np.pi * distance / STRIDE_LENGTH + rng.uniform(0, 2 * np.pi)
        pose[:, p] = gait_pose(phase)
        bob = 0.015 * np.cos(2 * phase)  # the body rises and falls twice per gait cycle
        transl[:, p] = np.stack([x, root_y + bob, z], axis=1)
    return SampleMotion(orient, pose, betas, transl, fps)


def write_sample_image(path: str | Path, width: int = 1280, height: int = 720, seed: int = 0) -> Path:
    """Write a demo PNG/JPEG of two stand-in people walking (NOT real people: generated mannequins)."""
    path = Path(path)
    motion = sample_motion(num_frames=45, num_persons=2, seed=seed)
    image = render_person_image(
        width, height, sample_camera(width, height), motion.persons(motion.num_frames - 1)
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), image):
        raise OSError(f"could not write {path}")
    return path
