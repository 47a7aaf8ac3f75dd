"""Cyclone DDS transport speaking the ROS 2 wire format, for hosts without ROS.

What makes a ROS 2 node (rmw_cyclonedds) talk to us (docs/ros_messages.md):
- DDS topic `rt/<ros topic>`; type name `pkg::msg::dds_::Type_`; keyless structs;
- plain CDR (XCDR1, little endian), produced and parsed by rosbags with our .msg definitions;
- USER_DATA `typehash=RIHS01_<hex>;` on every reader and writer (ROS 2 Iron and newer check it);
- QoS as rclpy would set it: sensor data (best effort) for camera input, transient local for the
  latched mesh.

A ROS 2 peer on Fast DDS 3 needs type propagation off on its side (`config/fastdds_interop.xml`);
`PeerWatch` detects the peers that lack it and the transport logs the fix once per peer.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from cyclonedds.core import Listener
from cyclonedds.domain import DomainParticipant
from cyclonedds.pub import DataWriter
from cyclonedds.qos import Policy, Qos
from cyclonedds.sub import DataReader
from cyclonedds.topic import Topic
from cyclonedds.util import duration

from fasthmr_ros.ros.messages.typestore import DEFAULT_STORE, get_typestore
from fasthmr_ros.ros.transport.base import MessageCallback, Publisher, QosProfile, Transport
from fasthmr_ros.ros.transport.dds_peers import FIX, LocalEndpoint, PeerWatch, UnmatchedPeer
from fasthmr_ros.ros.transport.dds_types import RawSample, TypeFactory, dds_type_name, outgoing


def dds_topic_name(ros_topic: str) -> str:
    """`/camera/image_raw` -> `rt/camera/image_raw` (ROS 2's prefix for topics)."""
    return "rt" + ros_topic


def dds_qos(qos: QosProfile, type_hash: str) -> Qos:
    """Endpoint QoS: the profile, plain-CDR representation and ROS 2's type-hash user data."""
    return Qos(
        Policy.Reliability.Reliable(max_blocking_time=duration(milliseconds=100))
        if qos.reliable
        else Policy.Reliability.BestEffort,
        Policy.Durability.TransientLocal if qos.transient_local else Policy.Durability.Volatile,
        Policy.History.KeepLast(depth=qos.depth),
        Policy.DataRepresentation(use_cdrv0_representation=True),
        Policy.Userdata(data=f"typehash={type_hash};".encode()),
    )


class DdsPublisher(Publisher):
    def __init__(
        self, transport: DdsTransport, topic: str, msgtype: str, writer: DataWriter[Any], struct: type
    ):
        self.topic, self.msgtype = topic, msgtype
        self._writer, self._struct = writer, struct
        self.typestore = transport.typestore

    def publish_cdr(self, cdr: bytes) -> None:
        self._writer.write(outgoing(self._struct, bytes(cdr)))


class DdsTransport(Transport):
    """One DDS participant; readers deliver through listeners on Cyclone's receive thread.

    A background thread checks every `peer_check_s` for peers that share a topic but never
    match (`PeerWatch`) and warns once per peer with the fix.
    """

    def __init__(
        self,
        domain_id: int = 0,
        namespace: str = "",
        store: str = DEFAULT_STORE,
        logger: logging.Logger | None = None,
        peer_check_s: float = 2.0,
    ) -> None:
        super().__init__(namespace, logger)
        self.typestore = get_typestore(store)
        self._types = TypeFactory(self.typestore)
        self._participant = DomainParticipant(domain_id)
        self._topics: dict[str, Topic[Any]] = {}
        self._endpoints: list[LocalEndpoint] = []
        self._lock = threading.Lock()
        self._closed = False
        self._peers = PeerWatch(self._participant)
        self.unmatched_peers: set[UnmatchedPeer] = set()  # as of the last check
        self._stop = threading.Event()
        self._watch = threading.Thread(target=self._watch_peers, args=(peer_check_s,), daemon=True)
        self._watch.start()

    def _watch_peers(self, period_s: float) -> None:
        warned: set[UnmatchedPeer] = set()
        while not self._stop.wait(period_s):
            with self._lock:
                if self._closed:
                    return
                try:
                    self.unmatched_peers = set(self._peers.unmatched(list(self._endpoints)))
                except Exception:  # a diagnostic aid: never let it take anything down
                    self.logger.exception("checking DDS peers failed")
                    continue
            for peer in self.unmatched_peers - warned:
                self.logger.warning("%s: %s", peer.describe(), FIX)
            warned |= self.unmatched_peers

    def _remember(self, ros_topic: str, msgtype: str, qos: QosProfile, entity: Any) -> None:
        endpoint = LocalEndpoint(
            dds_topic_name(ros_topic), dds_type_name(msgtype), qos.reliable, qos.transient_local, entity
        )
        with self._lock:
            self._endpoints.append(endpoint)

    def _topic(self, ros_topic: str, msgtype: str) -> tuple[Topic[Any], type]:
        struct = self._types.struct(msgtype)
        with self._lock:
            if ros_topic not in self._topics:
                self._topics[ros_topic] = Topic(self._participant, dds_topic_name(ros_topic), struct)
            topic = self._topics[ros_topic]
        if topic.data_type is not struct:
            raise ValueError(f"topic {ros_topic} is already used with another type")
        return topic, struct

    def advertise(self, topic: str, msgtype: str, qos: QosProfile) -> DdsPublisher:
        name = self.resolve(topic)
        dds_topic, struct = self._topic(name, msgtype)
        writer = DataWriter(
            self._participant, dds_topic, qos=dds_qos(qos, self.typestore.hash_rihs01(msgtype))
        )
        self._remember(name, msgtype, qos, writer)
        return DdsPublisher(self, name, msgtype, writer, struct)

    def subscribe(self, topic: str, msgtype: str, callback: MessageCallback, qos: QosProfile) -> None:
        name = self.resolve(topic)
        self._reader(
            name, msgtype, qos, lambda cdr, received: self._deliver(name, msgtype, cdr, received, callback)
        )

    def _reader(self, name: str, msgtype: str, qos: QosProfile, on_cdr: Callable[[bytes, int], None]) -> None:
        dds_topic, _ = self._topic(name, msgtype)

        created: list[DataReader[Any]] = []

        def drain(reader: DataReader[Any]) -> None:
            for sample in reader.take(64):
                if isinstance(sample, RawSample) and sample.sample_info.valid_data:
                    on_cdr(sample.data, self.now_ns())

        def on_data_available(_: object) -> None:
            # Transient-local history can arrive while DataReader() is still being constructed,
            # before cyclonedds knows the Python object; the drain below picks those samples up.
            if created:
                drain(created[0])

        reader = DataReader(
            self._participant,
            dds_topic,
            qos=dds_qos(qos, self.typestore.hash_rihs01(msgtype)),
            listener=Listener(on_data_available=on_data_available),
        )
        created.append(reader)
        drain(reader)
        self._remember(name, msgtype, qos, reader)

    def _deliver(
        self, topic: str, msgtype: str, cdr: bytes, received: int, callback: MessageCallback
    ) -> None:
        try:
            msg = self.typestore.deserialize_cdr(cdr, msgtype)
        except Exception as exc:  # any parse failure of foreign bytes: count, never propagate
            self.malformed[topic] += 1
            self.logger.warning("dropping malformed %s on %s: %s", msgtype, topic, exc)
            return
        try:
            callback(msg, received)
        except Exception:
            self.logger.exception("callback for %s raised", topic)

    def close(self) -> None:
        """Delete readers and writers, then topics, then the participant (children first)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._stop.set()
        self._watch.join()
        endpoints = [endpoint.entity for endpoint in reversed(self._endpoints)]
        for entity in [*endpoints, *self._topics.values(), self._participant]:
            entity.__del__()  # cyclonedds' explicit delete; later garbage collection is a no-op
        self._endpoints.clear()
        self._topics.clear()
