"""Approximate-time pairing of live inputs (the DDS transport's stand-in for message_filters)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from fasthmr_ros.ros.transport.sync import ApproximateSync, InputFrame

MS = 1_000_000


def msg(stamp_ns: int, kind: str) -> Any:
    stamp = SimpleNamespace(sec=stamp_ns // 10**9, nanosec=stamp_ns % 10**9)
    return SimpleNamespace(header=SimpleNamespace(stamp=stamp, frame_id="cam"), kind=kind)


def collect(**kwargs: Any) -> tuple[ApproximateSync, list[InputFrame]]:
    frames: list[InputFrame] = []
    return ApproximateSync(frames.append, **kwargs), frames


def test_pairs_in_either_arrival_order_within_slop() -> None:
    sync, frames = collect(slop_s=0.01)
    sync.add_image(msg(1000 * MS, "image"), 1)
    assert frames == []  # waits for its CameraInfo
    sync.add_camera_info(msg(1004 * MS, "info"), 2)  # 4 ms off: within slop
    sync.add_camera_info(msg(1033 * MS, "info"), 3)
    sync.add_image(msg(1033 * MS, "image"), 4)  # info already there
    assert [f.stamp_ns for f in frames] == [1000 * MS, 1033 * MS]
    assert [f.camera_info.header.stamp.nanosec for f in frames] == [4 * MS, 33 * MS]
    assert frames[0].received_ns == 1 and frames[0].frame_id == "cam"
    assert (sync.matched, sync.unmatched) == (2, 0)


def test_image_without_partner_is_dropped_and_counted_once_the_stream_moves_on() -> None:
    sync, frames = collect(slop_s=0.01)
    sync.add_image(msg(1000 * MS, "image"), 0)
    sync.add_camera_info(msg(1005 * MS, "info"), 0)  # pairs the first image
    sync.add_image(msg(1100 * MS, "image"), 0)  # its info never comes
    sync.add_camera_info(msg(1200 * MS, "info"), 0)
    sync.add_image(msg(1200 * MS, "image"), 0)
    assert [f.stamp_ns for f in frames] == [1000 * MS, 1200 * MS]
    assert sync.unmatched == 1


def test_detections_are_required_when_subscribed() -> None:
    sync, frames = collect(slop_s=0.01, with_detections=True)
    sync.add_camera_info(msg(1000 * MS, "info"), 0)
    sync.add_image(msg(1000 * MS, "image"), 0)
    assert frames == []
    sync.add_detections(msg(1002 * MS, "dets"), 0)
    assert len(frames) == 1 and frames[0].detections.kind == "dets"


def test_queue_overflow_counts_the_oldest_image() -> None:
    sync, frames = collect(slop_s=0.01, queue_size=3)
    for i in range(5):
        sync.add_image(msg((1000 + 100 * i) * MS, "image"), 0)
    assert sync.unmatched == 2 and frames == []
    sync.add_camera_info(msg(1400 * MS, "info"), 0)
    assert [f.stamp_ns for f in frames] == [1400 * MS]
    assert sync.unmatched == 4  # the two still waiting (1200, 1300 ms) can no longer match
