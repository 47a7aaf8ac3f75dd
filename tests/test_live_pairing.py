"""Live approximate-time pairing of Image + CameraInfo (+ detections) for the DDS node."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from fasthmr_ros.ros.node.pairing import WAITING_IMAGES, LivePairer, Paired

MS = 1_000_000


def msg(stamp_ns: int, kind: str) -> Any:
    stamp = SimpleNamespace(sec=stamp_ns // 10**9, nanosec=stamp_ns % 10**9)
    return SimpleNamespace(header=SimpleNamespace(stamp=stamp, frame_id="cam"), kind=kind)


def pairer(with_detections: bool = False) -> tuple[LivePairer, list[Paired]]:
    out: list[Paired] = []
    return LivePairer(0.01, with_detections, out.append), out


def test_pairs_in_either_arrival_order_within_the_slop() -> None:
    p, out = pairer()
    p.add_image(msg(1000 * MS, "image"), 1)
    assert out == []  # waits for its CameraInfo
    p.add_camera_info(msg(1004 * MS, "info"), 2)  # 4 ms off: within the slop
    p.add_camera_info(msg(1033 * MS, "info"), 3)
    p.add_image(msg(1033 * MS, "image"), 4)  # its info is already there
    assert [f.stamp_ns for f in out] == [1000 * MS, 1033 * MS]
    assert [f.camera_info.header.stamp.nanosec for f in out] == [4 * MS, 33 * MS]
    assert out[0].received_ns == 1 and not p.unpaired


def test_an_image_whose_info_cannot_come_any_more_is_counted() -> None:
    p, out = pairer()
    p.add_image(msg(1100 * MS, "image"), 0)
    p.add_camera_info(msg(1200 * MS, "info"), 0)  # info moved past 1100 + slop: none will come
    p.add_image(msg(1200 * MS, "image"), 0)
    assert [f.stamp_ns for f in out] == [1200 * MS]
    assert p.unpaired == {"no_camera_info": 1}


def test_detections_are_required_when_subscribed() -> None:
    p, out = pairer(with_detections=True)
    p.add_camera_info(msg(1000 * MS, "info"), 0)
    p.add_image(msg(1000 * MS, "image"), 0)
    assert out == []
    p.add_detections(msg(1002 * MS, "dets"), 0)
    assert len(out) == 1 and out[0].detections.kind == "dets"


def test_only_the_newest_pairable_image_comes_out() -> None:
    """Late CameraInfo that pairs several waiting images: the older ones are superseded."""
    p, out = pairer()
    for i in range(3):
        p.add_image(msg((1000 + 33 * i) * MS, "image"), 0)
    for i in range(3):
        p.add_camera_info(msg((1000 + 33 * i) * MS, "info"), 0)
    assert [f.stamp_ns for f in out] == [1000 * MS, 1033 * MS, 1066 * MS]  # each as its info came
    p.add_image(msg(1100 * MS, "image"), 0)
    p.add_image(msg(1133 * MS, "image"), 0)
    p.add_camera_info(msg(1133 * MS, "info"), 0)
    assert out[-1].stamp_ns == 1133 * MS and p.unpaired["superseded"] == 1


def test_waiting_images_are_bounded() -> None:
    p, out = pairer()
    for i in range(WAITING_IMAGES + 3):
        p.add_image(msg((1000 + 100 * i) * MS, "image"), 0)
    assert out == [] and p.unpaired["superseded"] == 3


def test_optional_camera_info_pairs_without_one_only_when_none_will_come() -> None:
    out: list[Paired] = []
    p = LivePairer(0.01, False, out.append, camera_info_optional=True)
    p.add_image(msg(1000 * MS, "image"), 1)  # no CameraInfo on the topic so far: goes without
    assert [(f.stamp_ns, f.camera_info) for f in out] == [(1000 * MS, None)]
    p.add_camera_info(msg(1033 * MS, "info"), 2)
    p.add_image(msg(1033 * MS, "image"), 3)  # its CameraInfo is there: paired with it
    assert out[-1].camera_info.kind == "info"
    p.add_image(msg(1066 * MS, "image"), 4)  # CameraInfo may still come: waits
    assert len(out) == 2
    p.add_camera_info(msg(1100 * MS, "info"), 5)  # the topic moved past 1066 ms: none will come
    assert (out[-1].stamp_ns, out[-1].camera_info) == (1066 * MS, None)
    assert not p.unpaired

