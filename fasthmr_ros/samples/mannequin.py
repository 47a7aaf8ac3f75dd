"""How a stand-in body looks in every generated image: clothing by part, a marked front.

One home for the look, because the labelled world a model is trained on (`samples.synth`) and
the demo scenes and sample bags it is shown (`samples.scene`) must draw the same mannequins:
a model trained on part-coloured bodies with a chest panel and a face does not know what to make
of a plain grey one.

Why the front is marked: the stand-in is mirror-symmetric, so without a mark a body seen from
the front looks like its depth-mirrored twin seen from the back, and its heading is ambiguous.
"""

from __future__ import annotations

import functools

import numpy as np

from fasthmr_ros.models.standin import build_standin_body
from fasthmr_ros.viz.overlay import rasterize_meshes

PART_GROUPS = {"skin": (1,), "upper": (0, 2, 3), "lower": (4, 5, 6, 7)}  # stand-in tube indices
# Parts whose front half gets its own colour: the torso a chest panel, the head a dark face.
FRONT_PARTS = (0, 1)
NUM_COLOURS = 8 + len(FRONT_PARTS)  # per-tube colours, then the front halves


@functools.lru_cache(maxsize=1)
def part_faces() -> tuple[np.ndarray, ...]:
    """The stand-in's triangles split by part (tube), so parts can be coloured apart; the parts
    of `FRONT_PARTS` lose their front half (rest pose: facing +z) to groups appended after."""
    body = build_standin_body()
    face_part = body.part[body.faces[:, 0]]
    centroid_z = body.vertices[body.faces, 2].mean(axis=1)
    front = np.zeros(len(body.faces), dtype=bool)
    for k in FRONT_PARTS:
        front |= (face_part == k) & (centroid_z > np.median(body.vertices[body.part == k, 2]))
    groups = [body.faces[(face_part == k) & ~front] for k in range(int(body.part.max()) + 1)]
    return tuple(groups + [body.faces[(face_part == k) & front] for k in FRONT_PARTS])


def dress(skin: np.ndarray, upper: np.ndarray, lower: np.ndarray) -> np.ndarray:
    """(NUM_COLOURS, 3) BGR per `part_faces` group: skin on the head, one colour above the waist,
    one below, then the chest panel (a lighter upper colour) and the face (darker skin)."""
    colours = np.zeros((NUM_COLOURS, 3))
    for group, colour in (("skin", skin), ("upper", upper), ("lower", lower)):
        colours[list(PART_GROUPS[group])] = colour
    colours[8] = (upper + 255) / 2
    colours[9] = skin * 0.45
    return colours


def random_clothing(rng: np.random.Generator) -> np.ndarray:
    """`dress` with a random skin tone and random clothing colours."""
    skin = np.array([rng.uniform(60, 190)] * 3) * np.array([0.75, 0.85, 1.0])
    upper, lower = rng.uniform(30, 230, size=3), rng.uniform(30, 200, size=3)
    return dress(skin, upper, lower)


def draw_mannequins(
    background: np.ndarray,
    vertices: np.ndarray,
    colours: np.ndarray,
    K: np.ndarray,
    ambient: float,
    gain: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Shaded bodies over `background` (H, W, 3).

    vertices: (P, V, 3) camera-frame stand-in vertices; colours: (P, NUM_COLOURS, 3) BGR.
    Returns the float32 image and the (H, W) owner map: the person drawn at each pixel, -1 none.
    """
    h, w = background.shape[:2]
    parts = part_faces()
    meshes = [(v, faces) for v in vertices for faces in parts]
    raster = rasterize_meshes(meshes, K, w, h, ambient=ambient)
    covered = raster.person >= 0
    owner = np.where(covered, raster.person // len(parts), -1)
    part = raster.person % len(parts)
    image = background.astype(np.float32)
    image[covered] = colours[owner[covered], part[covered]] * raster.shade[covered, None] * gain
    return image, owner
