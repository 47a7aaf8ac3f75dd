"""Frames received of 100 on Fast DDS, one host: a reliable rclpy camera publisher and an rclpy
subscriber in separate processes, best effort vs reliable subscriber, with and without a Fast DDS
XML profile.

    .venv/bin/python scripts/measure_fastdds_qos.py            # writes docs/bench/fastdds_qos.json

Every configuration runs `--repeats` times, interleaved (the machine is shared, so one slow moment
hits all configurations alike). Needs ROS 2 in the venv (`bash scripts/setup.sh --ros`).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import select
import subprocess
import sys
import time
from itertools import product
from pathlib import Path

from tqdm import tqdm

ROOT = Path(__file__).resolve().parents[1]
SIZES = ((640, 480), (1280, 720))
PROFILES = {"default": None, "fastdds_large_images.xml": ROOT / "config" / "fastdds_large_images.xml"}


def publish(domain: int, width: int, height: int, frames: int, rate_hz: float) -> None:
    """A camera driver: reliable, keep last 10 (the rclpy default), rgb8 at `rate_hz`."""
    import rclpy
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import Image

    rclpy.init(domain_id=domain)
    node = rclpy.create_node("qos_camera")
    pub = node.create_publisher(
        Image, "/camera/image_raw", QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
    )
    msg = Image(height=height, width=width, encoding="rgb8", step=width * 3)
    msg.data = bytes(width * height * 3)
    deadline = time.monotonic() + 15
    while pub.get_subscription_count() == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)  # let the subscriber's side of the match settle too
    start = time.monotonic()
    for i in range(frames):
        msg.header.frame_id = str(i)
        msg.header.stamp = node.get_clock().now().to_msg()
        pub.publish(msg)
        time.sleep(max(0.0, start + (i + 1) / rate_hz - time.monotonic()))
    time.sleep(1.0)  # reliable repairs may still be in flight
    node.destroy_node()
    rclpy.shutdown()


def subscribe(domain: int, reliable: bool, depth: int) -> None:
    """Counts distinct frames until stdin closes, then prints the count."""
    import rclpy
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import Image

    rclpy.init(domain_id=domain)
    node = rclpy.create_node("qos_subscriber")
    policy = ReliabilityPolicy.RELIABLE if reliable else ReliabilityPolicy.BEST_EFFORT
    seen: set[str] = set()
    node.create_subscription(
        Image,
        "/camera/image_raw",
        lambda m: seen.add(m.header.frame_id),
        QoSProfile(depth=depth, reliability=policy),
    )
    while not select.select([sys.stdin], [], [], 0)[0]:
        rclpy.spin_once(node, timeout_sec=0.05)
    for _ in range(20):  # drain what already arrived
        rclpy.spin_once(node, timeout_sec=0.01)
    print(len(seen), flush=True)
    node.destroy_node()
    rclpy.shutdown()


def run_once(
    domain: int, size: tuple[int, int], reliable: bool, profile: Path | None, args: argparse.Namespace
) -> int:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_DEFAULT_PROFILES_FILE")}
    if profile is not None:
        env["FASTDDS_DEFAULT_PROFILES_FILE"] = str(profile)
    me = [sys.executable, __file__]
    sub = subprocess.Popen(
        [*me, "sub", str(domain), str(int(reliable)), str(args.depth)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    pub_args = [str(domain), str(size[0]), str(size[1]), str(args.frames), str(args.rate)]
    subprocess.run([*me, "pub", *pub_args], env=env, check=True, timeout=120)
    out, _ = sub.communicate("", timeout=60)
    return int(out.strip().splitlines()[-1])


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "pub":
        d, w, h, n, r = sys.argv[2:7]
        return publish(int(d), int(w), int(h), int(n), float(r))
    if len(sys.argv) > 1 and sys.argv[1] == "sub":
        return subscribe(int(sys.argv[2]), sys.argv[3] == "1", int(sys.argv[4]))
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--rate", type=float, default=30.0, help="camera frame rate (Hz)")
    parser.add_argument("--depth", type=int, default=5, help="subscriber history depth (sensor-data QoS: 5)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--domain", type=int, default=77)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "bench" / "fastdds_qos.json")
    args = parser.parse_args()
    configs = list(product(SIZES, (False, True), PROFILES))
    results: dict[str, list[int]] = {}
    runs = [(r, c) for r in range(args.repeats) for c in configs]
    for repeat, (size, reliable, profile) in tqdm(runs, desc="runs"):
        key = f"{size[0]}x{size[1]} {'reliable' if reliable else 'best_effort'} {profile}"
        domain = args.domain + repeat
        results.setdefault(key, []).append(run_once(domain, size, reliable, PROFILES[profile], args))
    report = {
        "command": "python " + " ".join(sys.argv),
        "frames_sent": args.frames,
        "rate_hz": args.rate,
        "publisher": "rclpy, reliable, keep last 10",
        "subscriber_depth": args.depth,
        "rmw": "rmw_fastrtps_cpp (Fast DDS), publisher and subscriber in separate processes, one host",
        "host": platform.node(),
        "note": "shared 2-core machine; counts per repeat, interleaved",
        "received": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"| image | subscriber | profile | frames received of {args.frames} (per run) |")
    print("|---|---|---|---|")
    for key, counts in results.items():
        size, reliability, profile = key.split(" ")
        print(f"| {size} rgb8 | {reliability} | {profile} | {', '.join(map(str, counts))} |")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
