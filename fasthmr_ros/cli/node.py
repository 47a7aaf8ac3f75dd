"""`fasthmr node`: the live node, on plain DDS (no ROS needed) or on rclpy (a ROS 2 install)."""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from typing import Any

from fasthmr_ros.config import NodeConfig, load_node_config
from fasthmr_ros.errors import FastHMRError
from fasthmr_ros.ros.node_params import SPECS, check_value

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--transport",
        choices=("dds", "rclpy"),
        default="dds",
        help="dds: Cyclone DDS speaking the ROS 2 wire format, no ROS install needed; rclpy: a ROS 2 node",
    )
    parser.add_argument(
        "--params",
        help="ROS 2 parameters YAML (default: built-in defaults = config/fasthmr.yaml); SIGHUP re-reads it",
    )
    parser.add_argument("--namespace", default="", help="node namespace (relative topics resolve in it)")
    parser.add_argument(
        "--domain-id", type=int, default=None, help="DDS domain (default: $ROS_DOMAIN_ID or 0)"
    )
    parser.add_argument(
        "-p",
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override one parameter (YAML value syntax), e.g. -p device=cpu -p publish_tf=true",
    )


def node_config(args: argparse.Namespace) -> NodeConfig:
    import yaml

    try:
        cfg = load_node_config(args.params) if args.params else NodeConfig()
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise FastHMRError(f"cannot use parameters file {args.params}: {exc}") from exc
    for item in args.param:
        name, sep, text = item.partition("=")
        if not sep or name not in SPECS:
            raise FastHMRError(f"-p wants NAME=VALUE with NAME one of the node parameters, got {item!r}")
        value = yaml.safe_load(text) if text else ""
        if isinstance(getattr(cfg, name), str):  # topics and paths stay text ("0", "true")
            value = text
        setattr(cfg, name, check_value(name, value))
    return cfg


def _domain(args: argparse.Namespace) -> int:
    import os

    if args.domain_id is not None:
        return args.domain_id
    try:
        return int(os.environ.get("ROS_DOMAIN_ID", "0") or 0)
    except ValueError as exc:
        raise FastHMRError(f"ROS_DOMAIN_ID must be an integer, got {os.environ['ROS_DOMAIN_ID']!r}") from exc


def _reload(node: Any, args: argparse.Namespace) -> None:
    """SIGHUP: re-read --params and the -p overrides; apply the run-time parameters that changed."""
    try:
        applied = node.apply_config(node_config(args))
    except FastHMRError as exc:
        log.error("reload refused, nothing changed: %s", exc)
        return
    log.info("reloaded parameters; changed: %s", ", ".join(applied) or "nothing")


def run(args: argparse.Namespace) -> int:
    cfg = node_config(args)
    if args.transport == "rclpy":
        try:
            from fasthmr_ros.ros.node import run_rclpy
        except ImportError as exc:
            raise FastHMRError(
                f"--transport rclpy needs rclpy ({exc}): bash scripts/setup.sh --ros, or a sourced "
                "ROS 2 workspace with fasthmr_ros built; or run with --transport dds, which needs no ROS"
            ) from exc
        return run_rclpy(cfg, args.namespace)
    from fasthmr_ros.models.default import EMBEDDED_WARNING
    from fasthmr_ros.ros.dds_node import DdsNode

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with DdsNode(cfg, _domain(args), args.namespace) as node:
        node.activate()
        signal.signal(signal.SIGHUP, lambda *_: _reload(node, args))
        b = node.loaded.backend
        print(
            f"fasthmr node (dds, domain {_domain(args)}): {b.backend} {b.precision} on {b.device}: {b.reason}"
        )
        for camera in node.core.cameras:
            out = node.transport.resolve(camera.output(cfg.humans_topic))
            print(f"  {camera.image_topic} + {camera.camera_info_topic} -> {out}")
        if node.loaded.pipeline.embedded:
            print(EMBEDDED_WARNING)
        node.spin(stop)
    return 0
