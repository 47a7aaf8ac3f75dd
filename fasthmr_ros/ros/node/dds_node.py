"""The live node on plain Cyclone DDS (`fasthmr node --transport dds`): no ROS installation needed.

The same code as the rclpy node for everything but the transport: `NodeCore` (processing,
outputs, diagnostics, TF) and `NodeInputs` (QoS, pairing). Run-time parameter changes come
through `set_parameter` or `apply_config` (the CLI calls it on SIGHUP with the re-read
parameters), not over ROS parameter services.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import replace
from typing import Any

from fasthmr_ros.config import NodeConfig
from fasthmr_ros.ros.node.core import NodeCore
from fasthmr_ros.ros.node.inputs import NodeInputs
from fasthmr_ros.ros.node.params import RUNTIME_PARAMETERS, SPECS
from fasthmr_ros.ros.node.setup import LoadedPipeline, load_pipeline
from fasthmr_ros.ros.transport.dds import DdsTransport

log = logging.getLogger("fasthmr.node")


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
            unpaired=lambda: self.inputs.unpaired(),
        )
        self.inputs = NodeInputs(cfg, self.core, self.transport)

    def activate(self) -> None:
        self.core.start()
        self.inputs.activate()

    def deactivate(self) -> None:
        """Stop processing (subscriptions stay, their messages are ignored until activate)."""
        self.inputs.deactivate()
        self.core.stop()

    def close(self) -> None:
        self.deactivate()
        self.transport.close()

    def set_parameter(self, name: str, value: Any) -> None:
        setattr(self.cfg, name, self.core.set_parameter(name, value))

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
