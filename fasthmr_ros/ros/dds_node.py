"""The live node on plain Cyclone DDS (`fasthmr node --transport dds`): no ROS installation needed.

Same node logic as the rclpy node (`NodeCore`); what differs is the plumbing: subscriptions on
the DDS transport with the sensor-data QoS, `LivePairer` (the bag tool's stamp index over a
rolling window) instead of message_filters, `decode_image_message` instead of cv_bridge, and
diagnostics / TF published as plain DiagnosticArray / TFMessage topics. Each camera has its own
pairer; with `target_frame`, /tf and /tf_static feed the core's transform buffer. Run-time parameter
changes come through `set_parameter` or `apply_config` (the CLI calls it on SIGHUP with the
re-read parameters).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from fasthmr_ros.config import NodeConfig
from fasthmr_ros.errors import FastHMRError
from fasthmr_ros.ros.live_pairing import LivePairer, Paired
from fasthmr_ros.ros.node_core import FrameInput, NodeCore
from fasthmr_ros.ros.node_params import RUNTIME_PARAMETERS, SPECS
from fasthmr_ros.ros.node_setup import LoadedPipeline, load_pipeline
from fasthmr_ros.ros.transport.base import QosProfile
from fasthmr_ros.ros.transport.dds import DdsTransport
from fasthmr_ros.ros.typestore import CAMERA_INFO, COMPRESSED_IMAGE, DETECTION_2D_ARRAY, IMAGE, TF_MESSAGE

log = logging.getLogger("fasthmr.node")

# tf2's listener QoS: /tf reliable, /tf_static reliable and transient local (latched statics).
TF_QOS = QosProfile(reliable=True, depth=100)
TF_STATIC_QOS = QosProfile(reliable=True, depth=100, transient_local=True)


class DdsNode:
    """configure (load) -> activate (subscribe, publish) -> deactivate -> close, like the lifecycle node."""

    def __init__(
        self,
        cfg: NodeConfig,
        domain_id: int = 0,
        namespace: str = "",
        loaded: LoadedPipeline | None = None,
    ) -> None:
        self.cfg = replace(cfg)
        self.loaded = loaded or load_pipeline(cfg)
        self.transport = DdsTransport(domain_id, namespace, store=cfg.ros_store, logger=log)
        self.core = NodeCore(
            cfg,
            self.loaded.pipeline,
            self.transport,
            backend=self.loaded.backend,
            template_vertices=self.loaded.template_vertices,
            logger=log,
        )
        if len(self.core.cameras) > 1 and cfg.detections_topic:
            raise FastHMRError("detections_topic works with one camera; leave it empty with several cameras")
        self.pairers = [
            LivePairer(cfg.slop_s, bool(cfg.detections_topic), self._pair_handler(i))
            for i in range(len(self.core.cameras))
        ]
        self.core.unpaired = self._unpaired
        self._subscribed = False
        self._active = False

    def _pair_handler(self, camera: int) -> Callable[[Paired], None]:
        def on_pair(pair: Paired) -> None:
            if self._active:
                self.core.submit(
                    FrameInput(
                        pair.stamp_ns,
                        pair.received_ns,
                        pair.image,
                        pair.camera_info,
                        pair.detections,
                        camera=camera,
                    )
                )

        return on_pair

    def _unpaired(self) -> dict[str, int]:
        total: dict[str, int] = {}
        for pairer in self.pairers:
            for reason, count in pairer.unpaired.items():
                total[reason] = total.get(reason, 0) + count
        return total

    def _gated(self, add: Callable[[Any, int], None]) -> Callable[[Any, int], None]:
        """Inputs reach the synchroniser only while active (subscriptions outlive deactivate)."""

        def deliver(msg: Any, received_ns: int) -> None:
            if self._active:
                add(msg, received_ns)

        return deliver

    def activate(self) -> None:
        cfg = self.cfg
        self.core.start()
        self._active = True
        if self._subscribed:
            return
        sensor = QosProfile(reliable=False, depth=cfg.queue_depth)
        image_type = COMPRESSED_IMAGE if cfg.compressed_input else IMAGE
        for camera, pairer in zip(self.core.cameras, self.pairers, strict=True):
            self.transport.subscribe(camera.image_topic, image_type, self._gated(pairer.add_image), sensor)
            self.transport.subscribe(
                camera.camera_info_topic, CAMERA_INFO, self._gated(pairer.add_camera_info), sensor
            )
        if cfg.detections_topic:
            self.transport.subscribe(
                cfg.detections_topic, DETECTION_2D_ARRAY, self._gated(self.pairers[0].add_detections), sensor
            )
        if cfg.target_frame:
            self.transport.subscribe(
                "/tf", TF_MESSAGE, lambda msg, _: self.core.add_transforms(msg, False), TF_QOS
            )
            self.transport.subscribe(
                "/tf_static", TF_MESSAGE, lambda msg, _: self.core.add_transforms(msg, True), TF_STATIC_QOS
            )
        self._subscribed = True

    def deactivate(self) -> None:
        """Stop processing (subscriptions stay, their messages are ignored until activate)."""
        self._active = False
        self.core.stop()

    def close(self) -> None:
        self.deactivate()
        self.transport.close()

    def set_parameter(self, name: str, value: Any) -> None:
        self.core.set_parameter(name, value)
        setattr(self.cfg, name, value)

    def apply_config(self, new: NodeConfig) -> list[str]:
        """Apply what changed in `new` (a re-read parameters file): run-time parameters take effect
        on the next frame; others are reported as needing a restart. Returns the names applied."""
        applied, refused = [], []
        for name in SPECS:
            if getattr(new, name) == getattr(self.cfg, name):
                continue
            if name in RUNTIME_PARAMETERS:
                self.set_parameter(name, getattr(new, name))
                applied.append(name)
            else:
                refused.append(name)
        if refused:
            log.warning("not changed at run time (restart the node for these): %s", ", ".join(refused))
        return applied

    def spin(self, stop: threading.Event) -> None:
        """Run until `stop` is set, logging a one-line status every 10 s."""
        while not stop.wait(10.0):
            _, summary, values = self.core.diagnostic_values()
            log.info(
                "%s: in %s Hz, out %s Hz, latency %s ms, dropped %s, unpaired %s, malformed %s, errors %s",
                summary,
                values["input rate (Hz)"],
                values["output rate (Hz)"],
                values["latency median (ms)"],
                values["frames dropped (newer frame arrived)"],
                values["unpaired"],
                values["malformed"],
                values["errors"],
            )

    def __enter__(self) -> DdsNode:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
