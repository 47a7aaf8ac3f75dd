"""A labelled synthetic world: stand-in bodies in varied poses, shapes, cameras and scenes.

Why: no real labelled footage can be downloaded here, yet accuracy (of a trained model, of layer
and token merging, of the temporal decoders) can only be measured against exact labels. Every
image is rendered from SMPL parameters through the stand-in body model, so pose, shape, 3D and
2D joints, boxes and person masks are exact by construction. These are mannequins, NOT people:
numbers measured here say how well a model recovers stand-in bodies, nothing about real humans.

What varies (each drawn from a seeded generator): body pose (a frame of the synthetic motion
generator, a walking gait, or random joint rotations inside per-joint limits), shape (betas),
focal length and principal point, distance, heading all around, camera pitch and body lean,
background (the room scene or a random texture with clutter), per-part clothing colours,
lighting (ambient level, brightness, contrast, colour cast, sensor noise, blur), occluders in
front of people, and one to three people per image. Clips keep camera, scene and lighting fixed
and move their people smoothly.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from scipy.spatial.transform import Rotation
from tqdm import tqdm

from fasthmr_ros.decoders.data import synthetic_motion
from fasthmr_ros.errors import InputError
from fasthmr_ros.models.body_model import BodyModel
from fasthmr_ros.models.standin import STANDIN_VERSION, relaxed_pose
from fasthmr_ros.samples.dataset import IMAGES_DIR, MASKS_DIR, LabelledSet, write_labelled_set
from fasthmr_ros.samples.mannequin import draw_mannequins, random_clothing
from fasthmr_ros.samples.scene import background_scene, gait_pose, standin_body_model

# Per body-pose joint (SMPL joint - 1) limit of random rotations, radians (std of axis-angle).
_JOINT_LIMITS = np.array(
    [
        0.5,
        0.5,
        0.25,
        0.6,
        0.6,
        0.2,
        0.25,
        0.25,
        0.15,
        0.15,
        0.15,
        0.25,
        0.35,
        0.35,
        0.3,
        0.6,
        0.6,
        0.7,
        0.7,
        0.3,
        0.3,
        0.1,
        0.1,
    ]
)
_KNEES = (3, 4)  # body_pose indices of the knees: they bend one way only


@dataclass(frozen=True)
class SynthConfig:
    width: int = 480
    height: int = 360
    min_depth: float = 2.2  # metres from the camera to the pelvis
    max_depth: float = 7.0
    max_persons: int = 3
    occluder_probability: float = 0.3
    fps: float = 30.0


@dataclass
class _Person:
    global_orient: np.ndarray  # (3, 3) camera frame
    body_pose: np.ndarray  # (23, 3, 3)
    betas: np.ndarray  # (10,)
    transl: np.ndarray  # (3,)
    colors: np.ndarray  # (NUM_COLOURS, 3) BGR per `mannequin.part_faces` group


def _rotvec(v: np.ndarray) -> np.ndarray:
    return Rotation.from_rotvec(np.asarray(v).reshape(-1, 3)).as_matrix().reshape(*np.shape(v)[:-1], 3, 3)


def random_body_pose(rng: np.random.Generator) -> np.ndarray:
    """(23, 3, 3) a body pose from one of three sources: motion generator, gait, random limits."""
    source = rng.integers(3)
    if source == 0:
        clip = synthetic_motion(int(rng.integers(2, 60)), rng=rng)
        return clip.body_pose[-1]
    if source == 1:
        return gait_pose(np.array([rng.uniform(0, 2 * np.pi)]))[0]
    rest = relaxed_pose()[1:]
    rotvec = rng.normal(size=(23, 3)) * _JOINT_LIMITS[:, None]
    for knee in _KNEES:
        rotvec[knee] = [abs(rng.normal(0.0, 0.9)), 0.0, 0.0]
    return _rotvec(rotvec) @ rest


def _orientation(yaw: float, pitch: float, lean: np.ndarray) -> np.ndarray:
    """Camera-frame root rotation: a body facing the camera, leaned, turned by yaw, seen at pitch."""
    facing = np.diag([1.0, -1.0, -1.0])  # model y-up, facing +z -> camera y-down, facing the camera
    turn = Rotation.from_euler("y", yaw).as_matrix()
    tilt = Rotation.from_euler("x", pitch).as_matrix()
    return tilt @ turn @ facing @ _rotvec(lean)


def _texture(width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """A random smooth colour field with clutter (rectangles, discs, lines): BGR uint8."""
    cells = rng.integers(2, 8, size=2)
    field = rng.uniform(0, 255, size=(cells[0], cells[1], 3)).astype(np.float32)
    image = cv2.resize(field, (width, height), interpolation=cv2.INTER_CUBIC)
    image += np.asarray(rng.normal(0, rng.uniform(2, 12), size=image.shape), dtype=np.float32)
    image = np.clip(image, 0, 255).astype(np.uint8)
    for _ in range(int(rng.integers(3, 15))):
        color = tuple(int(c) for c in rng.integers(0, 256, size=3))
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        size = int(rng.integers(5, max(6, width // 4)))
        kind = rng.integers(3)
        if kind == 0:
            cv2.rectangle(image, (x, y), (x + size, y + int(rng.integers(5, size + 6))), color, -1)
        elif kind == 1:
            cv2.circle(image, (x, y), size // 2, color, -1, cv2.LINE_AA)
        else:
            end = (int(rng.integers(0, width)), int(rng.integers(0, height)))
            cv2.line(image, (x, y), end, color, int(rng.integers(1, 6)), cv2.LINE_AA)
    return image


def random_camera(cfg: SynthConfig, rng: np.random.Generator) -> np.ndarray:
    """(3, 3) K: horizontal field of view 45-85 degrees, principal point near the centre."""
    hfov = np.deg2rad(rng.uniform(45, 85))
    f = cfg.width / 2 / np.tan(hfov / 2)
    cx = cfg.width / 2 + rng.normal(0, 0.02 * cfg.width)
    cy = cfg.height / 2 + rng.normal(0, 0.02 * cfg.height)
    return np.array([[f, 0.0, cx], [0.0, f, cy], [0.0, 0.0, 1.0]])


@functools.lru_cache(maxsize=1)
class SceneRenderer:
    """Poses the stand-in bodies, renders a scene and returns exact labels for it."""

    def __init__(self, cfg: SynthConfig, body: BodyModel | None = None) -> None:
        self.cfg = cfg
        self.body = body if body is not None else standin_body_model()

    def pose(self, persons: list[_Person]) -> tuple[np.ndarray, np.ndarray]:
        """(P, V, 3) camera-frame vertices and (P, 24, 3) SMPL joints of the persons."""
        go = torch.as_tensor(np.stack([p.global_orient for p in persons]), dtype=torch.float32)[:, None]
        bp = torch.as_tensor(np.stack([p.body_pose for p in persons]), dtype=torch.float32)
        betas = torch.as_tensor(np.stack([p.betas for p in persons]), dtype=torch.float32)
        with torch.no_grad():
            out = self.body(go, bp, betas)
        transl = np.stack([p.transl for p in persons])[:, None]
        return out.vertices.numpy().astype(np.float64) + transl, out.smpl_joints.numpy().astype(
            np.float64
        ) + transl

    def root_offset(self, person: _Person) -> np.ndarray:
        """(3,) the rest pelvis position of this body shape (SMPL rotates about it): the joint
        regressor's pelvis row applied to the shaped template, without posing the whole body."""
        smpl = self.body.smpl
        betas = torch.as_tensor(person.betas, dtype=smpl.shapedirs.dtype)
        shaped = smpl.v_template + torch.einsum("vck,k->vc", smpl.shapedirs[..., : len(betas)], betas)
        return (smpl.J_regressor[0] @ shaped).double().numpy()

    def render(
        self,
        background: np.ndarray,
        K: np.ndarray,
        persons: list[_Person],
        light: dict[str, Any],
        rng: np.random.Generator,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """BGR image, (H, W) uint8 label map, (P, V, 3) vertices, (P, 24, 3) joints."""
        verts, joints = self.pose(persons)
        colors = np.stack([p.colors for p in persons])  # (P, NUM_COLOURS, 3)
        image, owner = draw_mannequins(background, verts, colors, K, light["ambient"], light["gain"])
        labels = (owner + 1).astype(np.uint8)
        if rng.uniform() < self.cfg.occluder_probability:
            _draw_occluder(image, labels, joints, K, rng)
        return _photometric(image, light, rng), labels, verts, joints


def _project(points: np.ndarray, K: np.ndarray) -> np.ndarray:
    return points[..., :2] / points[..., 2:3] * np.diag(K)[:2] + K[:2, 2]


def _draw_occluder(
    image: np.ndarray, labels: np.ndarray, joints: np.ndarray, K: np.ndarray, rng: np.random.Generator
) -> None:
    """A coloured block or disc in front of part of a random person (labels lose those pixels)."""
    uv = _project(joints[int(rng.integers(len(joints)))], K)
    lo, hi = uv.min(axis=0), uv.max(axis=0)
    size = (hi - lo) * rng.uniform(0.25, 0.6, size=2)
    corner = lo + (hi - lo - size) * rng.uniform(0, 1, size=2)
    occluder = np.zeros(labels.shape, np.uint8)
    x0, y0 = (int(v) for v in corner)
    x1, y1 = (int(v) for v in corner + size)
    if rng.uniform() < 0.5:
        cv2.rectangle(occluder, (x0, y0), (x1, y1), 1, -1)
    else:
        axes = (max(1, (x1 - x0) // 2), max(1, (y1 - y0) // 2))
        cv2.ellipse(occluder, ((x0 + x1) // 2, (y0 + y1) // 2), axes, 0, 0, 360, 1, -1)
    hit = occluder > 0
    image[hit] = rng.uniform(20, 235, size=3)
    labels[hit] = 0


def _light(rng: np.random.Generator) -> dict[str, Any]:
    return {
        "ambient": rng.uniform(0.2, 0.6),
        "gain": rng.uniform(0.7, 1.3),
        "contrast": rng.uniform(0.7, 1.2),
        "brightness": rng.uniform(-30, 30),
        "cast": rng.uniform(0.85, 1.15, size=3),
        "noise": rng.uniform(0, 8),
        "blur": rng.uniform() < 0.2,
    }


def _photometric(image: np.ndarray, light: dict[str, Any], rng: np.random.Generator) -> np.ndarray:
    mean = image.mean()
    out = (image - mean) * light["contrast"] + mean + light["brightness"]
    out = out * light["cast"] + rng.normal(0, light["noise"], size=out.shape)
    out = np.clip(out, 0, 255).astype(np.uint8)
    return cv2.GaussianBlur(out, (0, 0), 1.0) if light["blur"] else out


def _background(cfg: SynthConfig, K: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    if rng.uniform() < 0.35:
        return background_scene(cfg.width, cfg.height, K)
    return _texture(cfg.width, cfg.height, rng)


@dataclass
class _Frame:
    image: np.ndarray  # BGR
    labels: np.ndarray  # (H, W) uint8
    K: np.ndarray
    persons: list[_Person]
    vertices: np.ndarray  # (P, V, 3)
    joints: np.ndarray  # (P, 24, 3)


class SynthWorld:
    """Draws stills and clips; `write` stores them in the labelled data-set layout."""

    def __init__(self, cfg: SynthConfig, seed: int) -> None:
        self.cfg = cfg
        self.rng = np.random.default_rng(seed)
        self.renderer = SceneRenderer(cfg)

    def _place(self, person: _Person, K: np.ndarray, depth: float, pixel: np.ndarray) -> None:
        """Set transl so the pelvis lies at `depth` metres along the ray through `pixel`."""
        ray = np.array([(pixel[0] - K[0, 2]) / K[0, 0], (pixel[1] - K[1, 2]) / K[1, 1], 1.0])
        person.transl = ray * depth - self.renderer.root_offset(person)

    def _random_person(self, pitch: float) -> _Person:
        rng = self.rng
        orient = _orientation(rng.uniform(0, 2 * np.pi), pitch, rng.normal(0, 0.08, size=3))
        betas = np.zeros(10)
        betas[:5] = rng.normal(0, 0.9, size=5)
        return _Person(orient, random_body_pose(rng), betas, np.zeros(3), random_clothing(rng))

    def _pixel(self) -> np.ndarray:
        cfg = self.cfg
        return np.array([self.rng.uniform(0.2, 0.8) * cfg.width, self.rng.uniform(0.3, 0.7) * cfg.height])

    def still(self) -> _Frame:
        rng, cfg = self.rng, self.cfg
        K = random_camera(cfg, rng)
        pitch = rng.uniform(-0.15, 0.5)
        count = int(rng.choice(np.arange(1, cfg.max_persons + 1), p=_person_counts(cfg.max_persons)))
        persons = []
        for _ in range(count):
            person = self._random_person(pitch)
            self._place(person, K, rng.uniform(cfg.min_depth, cfg.max_depth), self._pixel())
            persons.append(person)
        image, labels, verts, joints = self.renderer.render(
            _background(cfg, K, rng), K, persons, _light(rng), rng
        )
        return _Frame(image, labels, K, persons, verts, joints)

    def clip(self, frames: int) -> Iterator[_Frame]:
        """Smooth motion: fixed camera, scene and light; each person walks slowly while moving."""
        rng, cfg = self.rng, self.cfg
        K = random_camera(cfg, rng)
        pitch = rng.uniform(-0.1, 0.35)
        background, light = _background(cfg, K, rng), _light(rng)
        tilt = Rotation.from_euler("x", pitch).as_matrix()
        tracks = []
        for _ in range(int(rng.integers(1, min(2, cfg.max_persons) + 1))):
            motion = synthetic_motion(frames, cfg.fps, rng)
            person = self._random_person(pitch)
            person.betas = np.concatenate([motion.betas[:5], np.zeros(5)])
            self._place(person, K, rng.uniform(cfg.min_depth + 0.5, cfg.max_depth - 1.0), self._pixel())
            velocity = tilt @ np.array([rng.uniform(-0.6, 0.6), 0.0, rng.uniform(-0.4, 0.4)]) / cfg.fps
            turn = Rotation.from_euler("y", rng.uniform(0, 2 * np.pi)).as_matrix()
            tracks.append((person, motion, velocity, turn))
        for t in range(frames):
            persons = [
                _Person(
                    tilt @ turn @ motion.global_orient[t],
                    motion.body_pose[t],
                    person.betas,
                    person.transl + velocity * t,
                    person.colors,
                )
                for person, motion, velocity, turn in tracks
            ]
            image, labels, verts, joints = self.renderer.render(background.copy(), K, persons, light, rng)
            yield _Frame(image, labels, K, persons, verts, joints)


def _person_counts(max_persons: int) -> np.ndarray:
    weights = np.array([0.5, 0.3, 0.2, 0.1, 0.1, 0.1][:max_persons])
    return weights / weights.sum()


def _box_and_visibility(
    labels: np.ndarray, index: int, verts_uv: np.ndarray, faces: np.ndarray
) -> tuple[np.ndarray, float]:
    """Whole-body box clipped to the image, and the fraction of the body's silhouette left visible
    (not hidden by other people, occluders or the image border)."""
    h, w = labels.shape
    box = np.concatenate([verts_uv.min(axis=0), verts_uv.max(axis=0)])
    triangles = np.round(verts_uv[faces]).astype(np.int32)  # (F, 3, 2)
    extent = _silhouette_area(verts_uv, triangles)
    visible = float((labels == index + 1).sum()) / max(extent, 1.0)
    return np.clip(box, 0, [w - 1, h - 1, w - 1, h - 1]), min(visible, 1.0)


def _silhouette_area(verts_uv: np.ndarray, triangles: np.ndarray) -> float:
    """Pixel area of the whole silhouette, inside the image or not (drawn on its own canvas)."""
    lo = np.floor(verts_uv.min(axis=0)).astype(np.int32)
    hi = np.ceil(verts_uv.max(axis=0)).astype(np.int32)
    canvas = np.zeros((hi[1] - lo[1] + 1, hi[0] - lo[0] + 1), np.uint8)
    cv2.fillPoly(canvas, list(triangles - lo), 1)
    return float(canvas.sum())


def write_synth_set(
    out: str | Path,
    images: int,
    clips: int = 0,
    frames: int = 0,
    seed: int = 0,
    cfg: SynthConfig | None = None,
    progress: bool = True,
) -> LabelledSet:
    """Render `images` stills and `clips` clips of `frames` frames into the data-set folder `out`."""
    cfg = cfg or SynthConfig()
    if images < 0 or clips < 0 or (clips and frames < 2):
        raise InputError("need --images >= 0, and --frames >= 2 with --clips")
    if images + clips == 0:
        raise InputError("nothing to write: give --images and/or --clips")
    root = Path(out)
    if (root / "labels.npz").exists():
        raise InputError(f"{root} already holds a data set; choose a new folder")
    (root / IMAGES_DIR).mkdir(parents=True, exist_ok=True)
    (root / MASKS_DIR).mkdir(parents=True, exist_ok=True)
    world = SynthWorld(cfg, seed)
    per_image: dict[str, list[Any]] = {"image_files": [], "intrinsics": [], "clip": [], "frame": []}
    per_person: dict[str, list[Any]] = {
        k: []
        for k in (
            "image_index",
            "track_id",
            "boxes",
            "global_orient",
            "body_pose",
            "betas",
            "transl",
            "joints_3d",
            "joints_2d",
            "visible",
        )
    }

    def frames_iter() -> Iterator[tuple[int, int, _Frame]]:
        for _ in range(images):
            yield -1, 0, world.still()
        for c in range(clips):
            for t, frame in enumerate(world.clip(frames)):
                yield c, t, frame

    total = images + clips * frames
    faces = world.renderer.body.faces
    next_track = 0
    for index, (clip, t, frame) in enumerate(
        tqdm(frames_iter(), total=total, desc="synth", unit="image", disable=not progress)
    ):
        name = f"{index:06d}"
        cv2.imwrite(str(root / IMAGES_DIR / f"{name}.jpg"), frame.image, [cv2.IMWRITE_JPEG_QUALITY, 92])
        cv2.imwrite(str(root / MASKS_DIR / f"{name}.png"), frame.labels)
        per_image["image_files"].append(f"{IMAGES_DIR}/{name}.jpg")
        per_image["intrinsics"].append(frame.K)
        per_image["clip"].append(clip)
        per_image["frame"].append(t)
        if clip < 0 or t == 0:
            first_track, next_track = next_track, next_track + len(frame.persons)
        for k, person in enumerate(frame.persons):
            uv = _project(frame.vertices[k], frame.K)
            box, visible = _box_and_visibility(frame.labels, k, uv, faces)
            row = {
                "image_index": index,
                "track_id": first_track + k,
                "boxes": box,
                "global_orient": person.global_orient,
                "body_pose": person.body_pose,
                "betas": person.betas,
                "transl": person.transl,
                "joints_3d": frame.joints[k],
                "joints_2d": _project(frame.joints[k], frame.K),
                "visible": visible,
            }
            for key, value in row.items():
                per_person[key].append(value)
    arrays = {k: np.asarray(v) for k, v in per_image.items()}
    arrays["image_files"] = arrays["image_files"].astype(str)
    for key, value in per_person.items():
        arrays[key] = np.asarray(value, dtype=np.int64 if key in ("image_index", "track_id") else np.float32)
    dataset = LabelledSet(root=root, fps=cfg.fps, body_model=STANDIN_VERSION, **arrays)
    write_labelled_set(dataset)
    return dataset
