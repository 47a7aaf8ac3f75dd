"""A ROS 2 camera driver and RViz-like subscribers in one rclpy process, on Fast DDS.

Run as a script by the interop tests (its own process, as on a robot):
`python tests/fastdds_peer.py DOMAIN SECONDS [--no-outputs] [--encoding yuv422_yuy2]`.
It publishes Image (rgb8, or YUYV as usb_cam does by default) + CameraInfo at 10 Hz with a
reliable QoS (what camera drivers use), subscribes to every output of the node, and prints one
JSON line: the stamps it sent and, per output topic, what arrived (for the humans topic, the
input stamps answered).
"""

from __future__ import annotations

import argparse
import importlib
import json
import time
from typing import Any

import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image
from shape_msgs.msg import Mesh
from visualization_msgs.msg import MarkerArray

W, H = 160, 120
FRAME = "camera_optical_frame"
RELIABLE = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
LATCHED = QoSProfile(
    depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL
)


def optional_type(module: str, name: str) -> Any:
    """Message classes that only exist where they were built (ours) or installed (tf2_msgs)."""
    try:
        return getattr(importlib.import_module(module), name)
    except ImportError:
        return None


def stamp_ns(stamp: Any) -> int:
    return stamp.sec * 10**9 + stamp.nanosec


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("domain", type=int)
    parser.add_argument("seconds", type=float)
    parser.add_argument("--no-outputs", action="store_true", help="only publish the camera")
    parser.add_argument("--encoding", choices=("rgb8", "yuv422_yuy2"), default="rgb8")
    args = parser.parse_args()
    rclpy.init(domain_id=args.domain)
    node = rclpy.create_node("fastdds_camera_peer")
    images = node.create_publisher(Image, "/camera/image_raw", RELIABLE)
    infos = node.create_publisher(CameraInfo, "/camera/camera_info", RELIABLE)
    received: dict[str, list[Any]] = {}

    def keep(topic: str, value: Any) -> None:
        received.setdefault(topic, []).append(value)

    outputs = {
        "/fasthmr/markers": (MarkerArray, RELIABLE, lambda m: len(m.markers)),
        "/diagnostics": (DiagnosticArray, RELIABLE, lambda m: m.status[0].name if m.status else ""),
        "/fasthmr/humans": (
            optional_type("fasthmr_ros.msg", "HumanMeshArray"),
            RELIABLE,
            lambda m: stamp_ns(m.header.stamp),
        ),
        "/tf": (optional_type("tf2_msgs.msg", "TFMessage"), RELIABLE, lambda m: len(m.transforms)),
    }
    subscriptions = []
    if not args.no_outputs:
        for topic, (msg_type, qos, summary) in outputs.items():
            if msg_type is not None:
                subscriptions.append(
                    node.create_subscription(
                        msg_type, topic, lambda m, t=topic, f=summary: keep(t, f(m)), qos
                    )
                )
    sent: list[int] = []
    late_mesh = None
    end = time.monotonic() + args.seconds
    next_frame = time.monotonic()
    while time.monotonic() < end:
        if time.monotonic() >= next_frame:
            sent.append(publish_frame(node, images, infos, len(sent), args.encoding))
            next_frame += 0.1
        rclpy.spin_once(node, timeout_sec=0.01)
        # The fixed mesh is latched: subscribe only once the node answers, as a late joiner.
        if late_mesh is None and not args.no_outputs and received.get("/fasthmr/markers"):
            late_mesh = node.create_subscription(
                Mesh, "/fasthmr/mesh", lambda m: keep("/fasthmr/mesh", len(m.triangles)), LATCHED
            )
    print(json.dumps({"sent": sent, "received": received}), flush=True)
    node.destroy_node()
    rclpy.shutdown()


def publish_frame(node: Any, images: Any, infos: Any, index: int, encoding: str) -> int:
    now = node.get_clock().now().to_msg()
    level = index % 250
    if encoding == "rgb8":
        image = Image(height=H, width=W, encoding=encoding, step=W * 3, data=bytes([level]) * (W * H * 3))
    else:  # YUYV: luma `level` and neutral chroma (128) for every pixel: a grey frame
        image = Image(height=H, width=W, encoding=encoding, step=W * 2, data=bytes([level, 128]) * (W * H))
    info = CameraInfo(height=H, width=W, distortion_model="plumb_bob")
    info.k = [180.0, 0.0, 80.0, 0.0, 181.0, 60.0, 0.0, 0.0, 1.0]
    info.p = [180.0, 0.0, 80.0, 0.0, 0.0, 181.0, 60.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    for msg in (image, info):
        msg.header.stamp, msg.header.frame_id = now, FRAME
    infos.publish(info)
    images.publish(image)
    return stamp_ns(now)


if __name__ == "__main__":
    main()
