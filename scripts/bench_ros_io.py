"""Per-frame cost of the ROS output path and of the DDS transport (medians; no model involved).

    .venv/bin/python scripts/bench_ros_io.py [--persons 1 5] [--repeats 30] [--json OUT.json]

Prints, per person count: HumanMeshArray build + CDR, skeleton-only MarkerArray, MarkerArray with
mesh TRIANGLE_LISTs, and the CDR size of one person with and without vertices; then one 1280x720
rgb8 Image sent and received over DDS on loopback
(serialise, send, receive, deserialise) between two participants of this process.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import threading
import time
from collections.abc import Callable

import numpy as np

from fasthmr_ros.pipeline.result import CameraIntrinsics, FrameResult, PersonResult
from fasthmr_ros.ros.messages.builders import frame_to_msg, image_message
from fasthmr_ros.ros.messages.markers import frame_markers
from fasthmr_ros.ros.messages.typestore import HUMAN_MESH_ARRAY, IMAGE, get_typestore
from fasthmr_ros.ros.transport.base import DEFAULT
from fasthmr_ros.ros.transport.dds import DdsTransport


def median_ms(fn: Callable[[], object], repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def synthetic_frame(persons: int, rng: np.random.Generator) -> FrameResult:
    ahead = np.array([0.0, 0.0, 4.0])  # metres in front of the camera
    people = [
        PersonResult(
            track_id=i,
            score=0.9,
            bbox=np.array([0, 0, 100, 300.0]),
            global_orient=np.eye(3),
            body_pose=np.tile(np.eye(3), (23, 1, 1)),
            betas=np.zeros(10),
            transl=ahead,
            joints3d=rng.normal(size=(44, 3)) + ahead,
            joints2d=rng.uniform(0, 720, (44, 2)),
            joint_set="hmr2_44",
            pred_cam=np.ones(3),
            vertices=rng.normal(size=(6890, 3)) + ahead,
        )
        for i in range(persons)
    ]
    camera = CameraIntrinsics(1000.0, 1000.0, 640.0, 360.0, 1280, 720)
    return FrameResult(1, "cam", 1280, 720, camera, people)


def dds_image_latency_ms(repeats: int) -> float:
    rgb = np.random.default_rng(0).integers(0, 255, (720, 1280, 3), dtype=np.uint8)
    msg = image_message(rgb, 0, "cam")
    arrived = threading.Event()
    latencies: list[float] = []
    sent = [0]

    def on_image(_: object, received_ns: int) -> None:
        latencies.append((received_ns - sent[0]) / 1e6)
        arrived.set()

    domain = 100 + time.time_ns() % 100
    with DdsTransport(domain) as sender, DdsTransport(domain) as receiver:
        receiver.subscribe("/bench/image", IMAGE, on_image, DEFAULT)
        publisher = sender.advertise("/bench/image", IMAGE, DEFAULT)
        time.sleep(1.0)  # discovery
        for _ in range(repeats + 3):
            arrived.clear()
            sent[0] = time.time_ns()
            publisher.publish(msg)
            arrived.wait(5)
    return statistics.median(latencies[3:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, nargs="+", default=[1, 5])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args()
    report: dict[str, object] = {"load_average_1min_start": os.getloadavg()[0], "rows": []}
    typestore = get_typestore()
    rng = np.random.default_rng(0)
    faces = rng.integers(0, 6890, (13776, 3))
    for persons in args.persons:
        frame = synthetic_frame(persons, rng)
        humans = median_ms(
            lambda f=frame: typestore.serialize_cdr(frame_to_msg(f), HUMAN_MESH_ARRAY), args.repeats
        )
        skeleton = median_ms(lambda f=frame: frame_markers(f, faces, with_mesh=False), args.repeats)
        mesh = median_ms(lambda f=frame: frame_markers(f, faces, with_mesh=True), args.repeats)
        print(f"{persons} person(s): HumanMeshArray build+CDR {humans:.2f} ms, skeleton MarkerArray "
              f"{skeleton:.2f} ms, MarkerArray with mesh TRIANGLE_LISTs {mesh:.2f} ms")  # fmt: skip
        report["rows"].append(  # type: ignore[attr-defined]
            {"persons": persons, "humans_build_cdr_ms": humans, "skeleton_markers_ms": skeleton,
             "mesh_markers_ms": mesh}
        )  # fmt: skip
    one = synthetic_frame(1, rng)
    sizes = {v: len(typestore.serialize_cdr(frame_to_msg(one, v), HUMAN_MESH_ARRAY)) for v in (False, True)}
    print(f"HumanMeshArray with one person: {sizes[False]} bytes, {sizes[True]} with vertices")
    image_ms = dds_image_latency_ms(args.repeats)
    print(f"1280x720 rgb8 Image over DDS loopback: {image_ms:.1f} ms median")
    report |= {"one_person_cdr_bytes": sizes[False], "one_person_with_vertices_cdr_bytes": sizes[True],
               "dds_image_1280x720_ms": image_ms, "load_average_1min_end": os.getloadavg()[0],
               "command": "scripts/bench_ros_io.py --persons " + " ".join(map(str, args.persons))
               + f" --repeats {args.repeats}"}  # fmt: skip
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
