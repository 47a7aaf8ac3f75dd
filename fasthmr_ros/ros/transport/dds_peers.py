"""Finds DDS peers that share one of our topics but never match, and says why and how to fix it.

Why this exists: a ROS 2 node on Fast DDS 3 (Jazzy, Kilted) announces XTypes type information
that Cyclone rejects as invalid, so Cyclone can never decide the two types are assignable and
the endpoints stay unmatched: both sides see each other in the graph, no data flows, and
nothing else says so. With type propagation switched off on the Fast DDS side
(`config/fastdds_interop.xml`), Cyclone falls back to matching by type name, as DDS-XTypes
prescribes for peers without type information, and data flows.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cyclonedds.builtin import BuiltinDataReader, BuiltinTopicDcpsPublication, BuiltinTopicDcpsSubscription
from cyclonedds.builtin_types import DcpsEndpoint
from cyclonedds.core import InstanceState
from cyclonedds.domain import DomainParticipant
from cyclonedds.pub import DataWriter
from cyclonedds.qos import Policy
from cyclonedds.sub import DataReader


def _interop_profile() -> str:
    """The shipped profile's path in a source checkout; in an install, its place under share/."""
    checkout = Path(__file__).resolve().parents[3] / "config" / "fastdds_interop.xml"
    return str(checkout) if checkout.is_file() else "<prefix>/share/fasthmr_ros/config/fastdds_interop.xml"


FIX = (
    "no data flows. If the peer is a ROS 2 node on Fast DDS (ROS 2's default middleware), Cyclone DDS "
    "cannot resolve the XTypes type information it sends (eclipse-cyclonedds/cyclonedds#2184). Fix: "
    f"start the ROS 2 side with FASTDDS_DEFAULT_PROFILES_FILE={_interop_profile()} "
    "(turns Fast DDS type propagation off), or run it on rmw_cyclonedds_cpp"
)


@dataclass(frozen=True)
class LocalEndpoint:
    """One of our readers or writers, with what matching needs to know about it."""

    topic: str  # DDS topic name, `rt/...`
    type_name: str
    reliable: bool
    transient_local: bool
    entity: DataReader[Any] | DataWriter[Any]


@dataclass(frozen=True)
class UnmatchedPeer:
    topic: str
    type_name: str
    kind: str  # what the remote endpoint is: "publisher" or "subscriber"

    def describe(self) -> str:
        return f"a remote {self.kind} of {self.type_name} on {self.topic} is discovered but not matched"


def _offers(endpoint: DcpsEndpoint) -> tuple[bool, bool]:
    """(reliable, transient local) of a discovered endpoint."""
    reliable = isinstance(endpoint.qos[Policy.Reliability], Policy.Reliability.Reliable)
    return reliable, endpoint.qos[Policy.Durability] != Policy.Durability.Volatile


def qos_compatible(reader: tuple[bool, bool], writer: tuple[bool, bool]) -> bool:
    """DDS request/offer rules for (reliable, transient local): a mismatch here is a QoS problem,
    not an XTypes one."""
    return all(offered or not requested for requested, offered in zip(reader, writer, strict=True))


def _matched_keys(local: DataReader[Any] | DataWriter[Any]) -> set[uuid.UUID]:
    if isinstance(local, DataReader):
        found = [local.get_matched_publication_data(h) for h in local.get_matched_publications()]
    else:
        found = [local.get_matched_subscription_data(h) for h in local.get_matched_subscriptions()]
    return {endpoint.key for endpoint in found if endpoint is not None}  # None: gone meanwhile


class PeerWatch:
    """Remembers when each remote endpoint appeared; reports those still unmatched with one of
    ours after `grace_s` although their QoS is compatible and they carry type information."""

    def __init__(self, participant: DomainParticipant, grace_s: float = 3.0) -> None:
        self._own = participant.get_guid()
        self._builtin = {
            "publisher": BuiltinDataReader(participant, BuiltinTopicDcpsPublication),
            "subscriber": BuiltinDataReader(participant, BuiltinTopicDcpsSubscription),
        }
        self._remote: dict[uuid.UUID, tuple[str, DcpsEndpoint, float]] = {}
        self.grace_s = grace_s

    def _refresh(self) -> None:
        now = time.monotonic()
        for kind, reader in self._builtin.items():
            for sample in reader.take(256):
                if sample.sample_info.valid_data and sample.sample_info.instance_state == InstanceState.Alive:
                    if sample.participant_key != self._own:
                        self._remote.setdefault(sample.key, (kind, sample, now))
                else:
                    self._remote.pop(sample.key, None)

    def unmatched(self, endpoints: list[LocalEndpoint]) -> list[UnmatchedPeer]:
        self._refresh()
        found = []
        now = time.monotonic()
        for kind, remote, seen in self._remote.values():
            if now - seen < self.grace_s or remote.type_id is None:
                continue
            for local in endpoints:
                remote_is_writer = kind == "publisher"
                if isinstance(local.entity, DataReader) != remote_is_writer or (
                    local.topic,
                    local.type_name,
                ) != (remote.topic_name, remote.type_name):
                    continue
                mine = (local.reliable, local.transient_local)
                reader, writer = (mine, _offers(remote)) if remote_is_writer else (_offers(remote), mine)
                if qos_compatible(reader, writer) and remote.key not in _matched_keys(local.entity):
                    found.append(UnmatchedPeer(remote.topic_name, remote.type_name, kind))
        return found
