"""A transform buffer fed from `tf2_msgs/TFMessage` (/tf and /tf_static), with no ROS install.

Why our own: tf2_ros is not installable from PyPI, and the bag tool and the DDS node must put
humans in the robot's frame without it. The semantics follow tf2's: frames form a tree (each
child has one parent), a lookup walks from both frames to their common ancestor, dynamic edges
are interpolated at the asked stamp (linear translation, slerp rotation), static edges hold at
every stamp, and a stamp outside the recorded span is an error unless it lies within
`tolerance_s` of it (then the nearest transform is used). Errors name the frames involved.

Messages are anything shaped like rosbags' TFMessage (`.transforms[i].header.stamp/.frame_id`,
`.child_frame_id`, `.transform.translation/.rotation`), so rosbags-decoded bag records, DDS
samples and rclpy messages all feed it.
"""

from __future__ import annotations

import bisect
import threading
from typing import Any

import numpy as np
from scipy.spatial.transform import Rotation, Slerp

from fasthmr_ros.errors import FastHMRError
from fasthmr_ros.pipeline.frame_transform import RigidTransform, transform_frame
from fasthmr_ros.pipeline.result import FrameResult


class TransformError(FastHMRError):
    """No usable transform; `reason` is a short key for counters, the message names the frames."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def _frame(name: str) -> str:
    """tf2 ignores a leading slash in frame ids."""
    return name.lstrip("/")


def _stamp_ns(stamp: Any) -> int:
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


class _Edge:
    """One child -> parent link over time (or static)."""

    def __init__(self, parent: str, static: bool) -> None:
        self.parent, self.static = parent, static
        self.stamps: list[int] = []
        self.quats: list[np.ndarray] = []  # (4,) x, y, z, w
        self.translations: list[np.ndarray] = []

    def add(self, stamp_ns: int, quat: np.ndarray, translation: np.ndarray, keep_ns: int | None) -> None:
        if self.static:
            self.stamps, self.quats, self.translations = [stamp_ns], [quat], [translation]
            return
        i = bisect.bisect_left(self.stamps, stamp_ns)
        if i < len(self.stamps) and self.stamps[i] == stamp_ns:
            self.quats[i], self.translations[i] = quat, translation
        else:
            self.stamps.insert(i, stamp_ns)
            self.quats.insert(i, quat)
            self.translations.insert(i, translation)
        if keep_ns is None:
            return
        oldest_kept = bisect.bisect_left(self.stamps, self.stamps[-1] - keep_ns)
        del self.stamps[:oldest_kept], self.quats[:oldest_kept], self.translations[:oldest_kept]

    def at(self, stamp_ns: int, tolerance_ns: int, child: str) -> RigidTransform:
        if self.static or (len(self.stamps) == 1 and self.stamps[0] == stamp_ns):
            return self._single(0)
        first, last = self.stamps[0], self.stamps[-1]
        if stamp_ns < first or stamp_ns > last:
            gap = first - stamp_ns if stamp_ns < first else stamp_ns - last
            if gap > tolerance_ns:
                side = "before the oldest" if stamp_ns < first else "after the newest"
                raise TransformError(
                    "too_old" if stamp_ns > last else "not_yet",
                    f"{self.parent} -> {child}: the asked stamp is {gap / 1e9:.3f} s {side} transform "
                    f"(tolerance {tolerance_ns / 1e9:.3f} s)",
                )
            return self._single(0 if stamp_ns < first else len(self.stamps) - 1)
        i = bisect.bisect_left(self.stamps, stamp_ns)
        if self.stamps[i] == stamp_ns:
            return self._single(i)
        t0, t1 = self.stamps[i - 1], self.stamps[i]
        w = (stamp_ns - t0) / (t1 - t0)
        slerp = Slerp([0.0, 1.0], Rotation.from_quat([self.quats[i - 1], self.quats[i]]))
        rotation = slerp([w]).as_matrix()[0]
        translation = (1 - w) * self.translations[i - 1] + w * self.translations[i]
        return RigidTransform(rotation, translation)

    def _single(self, i: int) -> RigidTransform:
        return RigidTransform(Rotation.from_quat(self.quats[i]).as_matrix(), self.translations[i])


class TfBuffer:
    """Thread-safe: transport threads `add_message`, the worker `lookup`s."""

    def __init__(self, cache_s: float | None = 10.0, tolerance_s: float = 0.1) -> None:
        """cache_s: history kept per edge (None: all of it, e.g. a whole bag read up front)."""
        self.keep_ns = None if cache_s is None else round(cache_s * 1e9)
        self.tolerance_ns = round(tolerance_s * 1e9)
        self._edges: dict[str, _Edge] = {}
        self._lock = threading.Lock()

    def add_message(self, msg: Any, static: bool = False) -> None:
        """Every TransformStamped of a TFMessage. A malformed one raises ValueError after the good
        ones before it were kept."""
        for stamped in msg.transforms:
            self.add(stamped, static)

    def add(self, stamped: Any, static: bool = False) -> None:
        parent, child = _frame(stamped.header.frame_id), _frame(stamped.child_frame_id)
        if not parent or not child or parent == child:
            raise ValueError(f"transform with unusable frames: parent {parent!r}, child {child!r}")
        r, t = stamped.transform.rotation, stamped.transform.translation
        quat = np.array([r.x, r.y, r.z, r.w], np.float64)
        norm = np.linalg.norm(quat)
        if not np.isfinite(norm) or norm < 1e-9:
            raise ValueError(f"{parent} -> {child}: rotation is not a quaternion ({quat.tolist()})")
        translation = np.array([t.x, t.y, t.z], np.float64)
        if not np.all(np.isfinite(translation)):
            raise ValueError(f"{parent} -> {child}: translation is not finite ({translation.tolist()})")
        with self._lock:
            edge = self._edges.get(child)
            if edge is None or edge.parent != parent or edge.static != static:
                edge = self._edges[child] = _Edge(parent, static)
            edge.add(_stamp_ns(stamped.header.stamp), quat / norm, translation, self.keep_ns)

    def frames(self) -> set[str]:
        with self._lock:
            return set(self._edges) | {e.parent for e in self._edges.values()}

    def lookup(self, target: str, source: str, stamp_ns: int) -> RigidTransform:
        """The transform taking points in `source` to `target` at `stamp_ns` (TransformError if none)."""
        target, source = _frame(target), _frame(source)
        if target == source:
            return RigidTransform.identity()
        with self._lock:
            known = set(self._edges) | {e.parent for e in self._edges.values()}
            missing = [f for f in (target, source) if f not in known]
            if missing:
                raise TransformError(
                    "unknown_frame",
                    f"{source} -> {target}: frame {' and '.join(missing)} never seen on /tf or /tf_static",
                )
            up_source, up_target = self._chain(source), self._chain(target)
            common = next((f for f, _ in up_source if f in {g for g, _ in up_target}), None)
            if common is None:
                raise TransformError(
                    "not_connected",
                    f"{source} -> {target}: the frames are in different trees "
                    f"(roots {up_source[-1][0]} and {up_target[-1][0]})",
                )
            source_to_common = self._walk(up_source, common, stamp_ns)
            target_to_common = self._walk(up_target, common, stamp_ns)
        return target_to_common.inverse().compose(source_to_common)

    def _chain(self, frame: str) -> list[tuple[str, _Edge | None]]:
        """[(frame, edge to its parent), (parent, ...), ..., (root, None)]."""
        out: list[tuple[str, _Edge | None]] = []
        seen = set()
        while frame not in seen:
            seen.add(frame)
            edge = self._edges.get(frame)
            out.append((frame, edge))
            if edge is None:
                break
            frame = edge.parent
        return out

    def _walk(self, chain: list[tuple[str, _Edge | None]], stop: str, stamp_ns: int) -> RigidTransform:
        """Points in chain[0]'s frame -> `stop`'s frame."""
        total = RigidTransform.identity()
        for frame, edge in chain:
            if frame == stop:
                break
            assert edge is not None
            total = edge.at(stamp_ns, self.tolerance_ns, frame).compose(total)
        return total


def express_in(
    frame: FrameResult, buffer: TfBuffer, target_frame: str
) -> tuple[FrameResult, TransformError | None]:
    """`frame` in `target_frame` at its own stamp, or — when no transform is usable — `frame`
    unchanged (still in the camera frame, its frame_id saying so) with the reason."""
    if not target_frame or _frame(target_frame) == _frame(frame.frame_id):
        return frame, None
    try:
        transform = buffer.lookup(target_frame, frame.frame_id, frame.stamp_ns)
    except TransformError as exc:
        return frame, exc
    return transform_frame(frame, transform, target_frame), None
