"""The Zigbee side of an emulated HAN device: what its firmware's network stack does.

:class:`EmulatedNode` is the base of every emulated GB device (ESME, GSME, IHD, ...). It
sits on the :class:`~hanbench.radio.air.VirtualAir` and exchanges real frames with the Comms
Hub's zigpy coordinator, encoded and decoded with zigpy's own types (``zigpy.zdo.types`` and
the cluster command schemas), so zigpy cannot tell it from a radio-attached device. ZCL
headers, which every frame has, are written and read by hand (:mod:`hanbench.radio.zcl_frames`,
byte for byte zigpy's), and so are the OTA commands of an update, which the OTA client builds
and reads with the same module through :meth:`EmulatedNode.exchange`:

* :meth:`EmulatedNode.join` joins the way a device does (association, then a ZDO
  ``Device_annce`` broadcast) and the node then answers zigpy's interview: Node, Active
  Endpoint and Simple Descriptor requests, and Read Attributes on Basic and OTA.
* :meth:`EmulatedNode.request` sends a cluster command to the coordinator and awaits the
  response with the same TSN; :meth:`EmulatedNode.request_general` does the same for a
  general (profile-wide) command such as Read Attributes, to any coordinator endpoint;
  :meth:`EmulatedNode.exchange` for a frame the caller built; :meth:`EmulatedNode.reply`
  answers a received command.
* Cluster commands from the coordinator land in :meth:`EmulatedNode.handle_cluster_command`,
  which device types override. Default Responses are sent where the ZCL asks for them.
* :meth:`EmulatedNode.sleep` / :meth:`EmulatedNode.wake` switch the receiver of a sleepy
  node; the air refuses unicasts to a sleeping node.
* A node behind another device (an Alt HAN bridge on its orchestrating bridge's link) is put
  on the air with :meth:`EmulatedNode.attach_behind` instead of joining, and its requests go
  to that device (``upstream_nwk``) instead of the coordinator.

The node never talks to the coordinator object: they meet only on the air. A response is
matched to a request by cluster, TSN and the node it came from, so a request another node
sends with the same TSN is never taken for one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

import zigpy.exceptions
import zigpy.types as t
import zigpy.zdo.types as zdo_t
from zigpy.zcl import Cluster, ClusterType, foundation
from zigpy.zcl.clusters.general import Basic, Ota
from zigpy.zdo import ZDO_ENDPOINT

from hanbench.errors import BadInput
from hanbench.radio.air import VirtualAir
from hanbench.radio.se_profile import SE_PROFILE_ID
from hanbench.radio.zcl_frames import ZclHeader, read_header, read_tsn
from hanbench.radio.zcl_frames import header as zcl_header
from hanbench.radio.zdo_responder import ZDO_PROFILE_ID, ZdoFrame, ZdoNode, answer

LOGGER = logging.getLogger(__name__)

COORDINATOR_NWK = t.NWK(0x0000)
_NWK_MODE = t.AddrMode.NWK  # looked up once: read from every frame received
#: How long a request waits for its response, in loop seconds (zigpy's APS reply timeout).
DEFAULT_REPLY_TIMEOUT_S = 5.0

_PendingKey = tuple[str, int, int, int]  # ("zdo"|"zcl", cluster id, tsn, NWK of the node that answers)
Reader = Callable[[ZclHeader, bytes], Any]
"""Reads the answer to a request from its header and payload (KeyError or ValueError if it cannot)."""
_Waiting = tuple["asyncio.Future[Any]", Reader | None]  # a ZDO answer needs no reader


def _flip(direction: foundation.Direction) -> foundation.Direction:
    return (
        foundation.Direction.Server_to_Client
        if direction == foundation.Direction.Client_to_Server
        else foundation.Direction.Client_to_Server
    )


def _side_addressed(direction: foundation.Direction) -> ClusterType:
    """Which side of our cluster a frame travelling in ``direction`` is for."""
    if direction == foundation.Direction.Client_to_Server:
        return ClusterType.Server
    return ClusterType.Client


def _server_to_client(direction: foundation.Direction) -> bool:
    return direction == foundation.Direction.Server_to_Client


def _to_node(nwk: int) -> t.AddrModeAddress:
    return t.AddrModeAddress(addr_mode=t.AddrMode.NWK, address=t.NWK(nwk))


def _source_nwk(packet: t.ZigbeePacket) -> int:
    """The NWK address a frame came from (0xFFFE when it carries none)."""
    src = packet.src
    return int(src.address) if src is not None and src.addr_mode == _NWK_MODE else 0xFFFE


def _cluster_class(cluster_id: int) -> type[Cluster]:
    try:
        return Cluster._registry[cluster_id]
    except KeyError:
        raise BadInput(f"zigpy knows no ZCL cluster 0x{cluster_id:04X}") from None


class EmulatedNode:
    """One emulated Zigbee node with one application endpoint.

    ``server_clusters``/``client_clusters`` are the endpoint's input/output clusters.
    ``rx_on_when_idle=False`` makes a sleepy end device on battery; otherwise the node is a
    mains-powered router. ``upstream_nwk`` is the node its requests go to: the coordinator,
    or the device a node behind another device hangs off (an Alt HAN bridge);
    ``upstream_endpoint`` the endpoint on that node they go to. Basic (if served) answers
    ``manufacturer``, ``model`` and ``power_source``; an OTA client answers ``current_file_version``. Other attributes are
    added with :meth:`set_attribute`.
    """

    def __init__(
        self,
        air: VirtualAir,
        ieee: t.EUI64 | str,
        nwk: int,
        *,
        endpoint: int = 1,
        profile_id: int = SE_PROFILE_ID,
        device_type: int,
        manufacturer: str,
        model: str,
        server_clusters: Sequence[int],
        client_clusters: Sequence[int],
        rx_on_when_idle: bool = True,
        manufacturer_code: int = 0x0000,
        current_file_version: int = 0x00000001,
        upstream_endpoint: int = 1,
        upstream_nwk: int = COORDINATOR_NWK,
    ) -> None:
        self._air = air
        self._ieee = t.EUI64.convert(ieee) if isinstance(ieee, str) else t.EUI64(ieee)
        self._nwk = t.NWK(nwk)
        self.endpoint = endpoint
        self.profile_id = profile_id
        self.device_type = device_type
        self.server_clusters = tuple(server_clusters)
        self.client_clusters = tuple(client_clusters)
        self.rx_on_when_idle = rx_on_when_idle
        self.manufacturer_code = manufacturer_code
        self.upstream_endpoint = upstream_endpoint
        self.upstream_nwk = upstream_nwk
        self._awake = True
        self._tsn = 0
        self._pending: dict[_PendingKey, _Waiting] = {}
        # Answers waited for and their deadlines, and the one timer that watches them (_watch).
        self._deadlines: dict[asyncio.Future[Any], float] = {}
        self._watchdog: asyncio.TimerHandle | None = None
        self._watchdog_when = 0.0
        # The node's own address and the one its requests go to, as every frame names them.
        self._src = _to_node(self._nwk)
        self._upstream = _to_node(upstream_nwk)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._attributes: dict[tuple[int, ClusterType], dict[int, Any]] = {}
        # Exceptions raised by this node's own command handlers: on the air they are a
        # FAILURE status, as real firmware would answer, but they are bugs in the emulated
        # firmware, so the bench fails the test that hit one rather than let it pass.
        self.firmware_faults: list[Exception] = []

        if Basic.cluster_id in self.server_clusters:
            self.set_attribute(Basic.cluster_id, "manufacturer", manufacturer)
            self.set_attribute(Basic.cluster_id, "model", model)
            self.set_attribute(
                Basic.cluster_id,
                "power_source",
                Basic.PowerSource.Mains_single_phase
                if rx_on_when_idle
                else Basic.PowerSource.Battery,
            )
        if Ota.cluster_id in self.client_clusters:
            self.set_attribute(
                Ota.cluster_id, "current_file_version", current_file_version, server=False
            )

    # -- identity (the AirNode protocol) -----------------------------------------------

    @property
    def ieee(self) -> t.EUI64:
        return self._ieee

    @property
    def nwk(self) -> t.NWK:
        return self._nwk

    @property
    def awake(self) -> bool:
        """Whether the receiver is on; a mains node is always awake."""
        return self._awake

    def sleep(self) -> None:
        """Turn the receiver off (sleepy nodes only): unicasts to the node now fail."""
        if self.rx_on_when_idle:
            raise BadInput(f"{self.ieee} is a mains-powered router; it does not sleep")
        self._awake = False

    def wake(self) -> None:
        """Turn the receiver on."""
        self._awake = True

    @property
    def node_descriptor(self) -> zdo_t.NodeDescriptor:
        """The ZDO Node Descriptor: router on mains, or sleepy end device on battery."""
        flags = zdo_t.NodeDescriptor.MACCapabilityFlags.AllocateAddress
        if self.rx_on_when_idle:
            flags |= (
                zdo_t.NodeDescriptor.MACCapabilityFlags.FullFunctionDevice
                | zdo_t.NodeDescriptor.MACCapabilityFlags.MainsPowered
                | zdo_t.NodeDescriptor.MACCapabilityFlags.RxOnWhenIdle
            )
        return zdo_t.NodeDescriptor(
            logical_type=(
                zdo_t.LogicalType.Router if self.rx_on_when_idle else zdo_t.LogicalType.EndDevice
            ),
            complex_descriptor_available=0,
            user_descriptor_available=0,
            reserved=0,
            aps_flags=0,
            frequency_band=zdo_t.NodeDescriptor.FrequencyBand.Freq2400MHz,
            mac_capability_flags=flags,
            manufacturer_code=self.manufacturer_code,
            maximum_buffer_size=82,
            maximum_incoming_transfer_size=82,
            server_mask=0,
            maximum_outgoing_transfer_size=82,
            descriptor_capability_field=zdo_t.NodeDescriptor.DescriptorCapability.NONE,
        )

    @property
    def simple_descriptor(self) -> zdo_t.SizePrefixedSimpleDescriptor:
        """The ZDO Simple Descriptor of the node's application endpoint."""
        return zdo_t.SizePrefixedSimpleDescriptor(
            endpoint=self.endpoint,
            profile=self.profile_id,
            device_type=self.device_type,
            device_version=0,
            input_clusters=list(self.server_clusters),
            output_clusters=list(self.client_clusters),
        )

    @property
    def zdo_node(self) -> ZdoNode:
        """What the node's stack answers ZDO discovery from: addresses, descriptors, its one endpoint."""
        return ZdoNode(self.nwk, self.ieee, self.node_descriptor, {self.endpoint: self.simple_descriptor})

    # -- attributes --------------------------------------------------------------------

    def set_attribute(
        self, cluster_id: int, attribute: str | int, value: Any, *, server: bool = True
    ) -> None:
        """Store an attribute value; ``attribute`` is a zigpy attribute name or ID."""
        self.attribute_setter(cluster_id, attribute, server=server)(value)

    def attribute_setter(
        self, cluster_id: int, attribute: str | int, *, server: bool = True
    ) -> Callable[[Any], None]:
        """:meth:`set_attribute` for one attribute, its definition looked up once: for an
        attribute that changes with every frame (an OTA client's FileOffset)."""
        attr_def = self._attribute_def(cluster_id, attribute)
        store = self._attributes.setdefault((cluster_id, ClusterType.Server if server else ClusterType.Client), {})
        attribute_id, kind = attr_def.id, attr_def.type

        def set_value(value: Any) -> None:
            store[attribute_id] = kind(value)

        return set_value

    def get_attribute(
        self, cluster_id: int, attribute: str | int, *, server: bool = True
    ) -> Any:
        """A stored attribute value (KeyError if never set)."""
        attr_def = self._attribute_def(cluster_id, attribute)
        side = ClusterType.Server if server else ClusterType.Client
        return self._attributes[(cluster_id, side)][attr_def.id]

    @staticmethod
    def _attribute_def(cluster_id: int, attribute: str | int) -> foundation.ZCLAttributeDef:
        cluster_class = _cluster_class(cluster_id)
        try:
            return cluster_class.find_attribute(attribute)
        except KeyError:
            raise BadInput(
                f"cluster {cluster_class.__name__} has no attribute {attribute!r}"
            ) from None

    # -- network membership ------------------------------------------------------------

    async def join(self, coordinator_nwk: int = COORDINATOR_NWK) -> None:
        """Join through the coordinator and announce the node, as a device does.

        Raises :class:`~hanbench.radio.air.JoinNotPermitted` if the network is closed.
        zigpy's interview follows on its own; the node answers it as frames arrive.
        """
        self._air.join(self, parent_nwk=t.NWK(coordinator_nwk))
        await self._announce()

    async def power_on(self) -> None:
        """Back on the air after a power cycle, with what a device keeps of its network in
        non-volatile memory (its address and parent, its keys): no join, so the network need
        not be open; it announces itself (Device_annce), as a device does after a reboot.
        Switching off is :meth:`close`."""
        self._air.attach(self, parent_nwk=t.NWK(self.upstream_nwk))
        await self._announce()

    async def _announce(self) -> None:
        capability = self.node_descriptor.mac_capability_flags
        await self._send_zdo(
            t.AddrModeAddress(
                addr_mode=t.AddrMode.Broadcast, address=t.BroadcastAddress.RX_ON_WHEN_IDLE
            ),
            zdo_t.ZDOCmd.Device_annce,
            self.next_tsn(),
            [self.nwk, self.ieee, t.uint8_t(capability)],
        )

    def attach_behind(self, parent_nwk: int) -> None:
        """Put the node on the air behind the node at ``parent_nwk`` without joining the CH's
        network: it is reachable from its parent (which holds its frames while it sleeps), and
        the coordinator never hears of it."""
        self._air.attach(self, parent_nwk=t.NWK(parent_nwk))

    async def close(self) -> None:
        """Leave the air and stop every task the node started."""
        self._air.detach(self)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for future, _ in self._pending.values():
            future.cancel()
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None

    async def match_descriptor(
        self,
        cluster_id: int,
        *,
        server: bool = True,
        timeout: float = DEFAULT_REPLY_TIMEOUT_S,
    ) -> list[int]:
        """Ask the node upstream (ZDO ``Match_Desc_req``) which of its endpoints offer a cluster.

        ``server=True`` looks for a server of ``cluster_id`` (how an OTA client finds its
        server); the profile is the node's own.
        """
        tsn = self.next_tsn()
        in_clusters = [t.uint16_t(cluster_id)] if server else []
        out_clusters = [] if server else [t.uint16_t(cluster_id)]
        args = await self._zdo_exchange(
            zdo_t.ZDOCmd.Match_Desc_req,
            tsn,
            [t.NWK(self.upstream_nwk), t.uint16_t(self.profile_id), in_clusters, out_clusters],
            timeout,
        )
        status, _, match_list = args
        if status != zdo_t.Status.SUCCESS:
            return []
        return [int(ep) for ep in match_list]

    # -- ZCL API for device types ------------------------------------------------------

    async def request(
        self,
        cluster_id: int,
        command: str | int,
        *args: Any,
        expect_reply: bool = True,
        timeout: float = DEFAULT_REPLY_TIMEOUT_S,
        direction: foundation.Direction | None = None,
        **kwargs: Any,
    ) -> Any:
        """Send a cluster-specific command to the node upstream (the coordinator); return its response.

        The direction follows from the node's role in the cluster (client -> server if the
        node uses the cluster, server -> client if it serves it); pass ``direction`` when
        the node has both sides. With ``expect_reply`` the Default Response is enabled and
        the first frame the coordinator sends back on the cluster with this TSN (a specific
        response or a Default Response) is returned, decoded; ``TimeoutError`` after
        ``timeout`` loop seconds. Delivery failures raise ``zigpy.exceptions.DeliveryError``.
        """
        if direction is None:
            direction = self._direction_for(cluster_id)
        tsn = self.next_tsn()
        command_id, payload = self._encode_cluster_command(
            cluster_id, command, direction, args, kwargs
        )
        frame = zcl_header(tsn, command_id, server_to_client=_server_to_client(direction),
                           disable_default_response=not expect_reply) + payload
        if not expect_reply:
            await self.send(cluster_id, frame)
            return None
        return await self.exchange(cluster_id, frame, self._zigpy_reader(cluster_id), timeout=timeout)

    def exchange(
        self, cluster_id: int, frame: bytes, read: Reader, *, timeout: float = DEFAULT_REPLY_TIMEOUT_S
    ) -> Coroutine[Any, Any, Any]:
        """Send a ZCL frame the caller built (TSN from :meth:`next_tsn`) to the upstream node's
        endpoint for cluster commands (the coordinator's, or an orchestrating device's); return
        the first frame that node sends back on the cluster with that TSN, read by ``read`` (a frame ``read`` cannot read is answered
        MALFORMED_COMMAND and not returned); ``TimeoutError`` after ``timeout`` loop seconds.
        Delivery failures raise ``zigpy.exceptions.DeliveryError``.

        The exchange to be awaited at once, not a coroutine of its own: one coroutine fewer per
        frame. A frame with no readable TSN raises here, at the call, not at the await.
        """
        tsn = read_tsn(frame)
        send = self._send_zcl(self._upstream, self.upstream_endpoint, cluster_id, tsn, frame)
        return self._exchange(("zcl", cluster_id, tsn, self.upstream_nwk), send, timeout, read)

    async def send(self, cluster_id: int, frame: bytes) -> None:
        """Send a ZCL frame the caller built to the upstream node's endpoint for cluster commands."""
        await self._send_zcl(self._upstream, self.upstream_endpoint, cluster_id, read_tsn(frame), frame)

    async def tell(self, nwk: int, cluster_id: int, frame: bytes) -> None:
        """Send a ZCL frame the caller built to the node at ``nwk`` (a device behind this one),
        on this node's own endpoint number; delivery failures raise
        ``zigpy.exceptions.DeliveryError``."""
        await self._send_zcl(_to_node(nwk), self.endpoint, cluster_id, read_tsn(frame), frame)

    async def request_general(
        self,
        cluster_id: int,
        command: foundation.GeneralCommand,
        *args: Any,
        endpoint: int | None = None,
        direction: foundation.Direction | None = None,
        timeout: float = DEFAULT_REPLY_TIMEOUT_S,
        **kwargs: Any,
    ) -> Any:
        """Send a general command (Read Attributes, ...) on a cluster; return the answer.

        It goes to the coordinator's ``endpoint`` (default: the one cluster commands go to),
        because the CH serves some clusters from other endpoints, such as a GSME's mirror.
        ``direction`` defaults as in :meth:`request`; Server_to_Client addresses the
        attributes of the coordinator's *client* side of the cluster. The frame control is
        zigpy's for a general command. Returns the first frame the coordinator sends back on
        the cluster with this TSN (the command's response, or a Default Response), decoded;
        ``TimeoutError`` after ``timeout`` loop seconds.
        """
        if direction is None:
            direction = self._direction_for(cluster_id)
        tsn = self.next_tsn()
        payload = foundation.GENERAL_COMMANDS[command].schema(*args, **kwargs).serialize()
        # zigpy's frame control for a general command: default response disabled server to client.
        frame = zcl_header(tsn, command, cluster_specific=False, server_to_client=_server_to_client(direction),
                           disable_default_response=_server_to_client(direction)) + payload
        dst_ep = self.upstream_endpoint if endpoint is None else endpoint
        send = self._send_zcl(self._upstream, dst_ep, cluster_id, tsn, frame)
        return await self._exchange(("zcl", cluster_id, tsn, self.upstream_nwk), send, timeout,
                                    self._zigpy_reader(cluster_id))

    async def reply_frame(self, packet: t.ZigbeePacket, frame: bytes) -> None:
        """Answer the command in ``packet`` with a ZCL frame the caller built (same TSN)."""
        assert packet.src is not None and packet.src_ep is not None
        await self._send_zcl(packet.src, packet.src_ep, packet.cluster_id, read_tsn(frame), frame)

    async def reply(
        self,
        packet: t.ZigbeePacket,
        header: ZclHeader,
        command: str | int,
        *args: Any,
        **kwargs: Any,
    ) -> None:
        """Answer the command in ``packet`` with a cluster-specific command, same TSN."""
        direction = _flip(header.direction)
        command_id, payload = self._encode_cluster_command(
            packet.cluster_id, command, direction, args, kwargs
        )
        await self.reply_frame(packet, zcl_header(header.tsn, command_id, server_to_client=_server_to_client(direction),
                                                  disable_default_response=True) + payload)

    async def handle_cluster_command(
        self, packet: t.ZigbeePacket, header: ZclHeader, command: Any
    ) -> foundation.Status | None:
        """Handle a cluster command from the coordinator; device types override this.

        Return ``None`` after replying with a specific response (:meth:`reply`), or a status
        for the Default Response, which is sent when the sender asked for one or the
        status is not SUCCESS. The base node supports no cluster commands.
        """
        return foundation.Status.UNSUP_CLUSTER_COMMAND

    # -- reception (called by the air) -------------------------------------------------

    def receive(self, packet: t.ZigbeePacket) -> None:
        """Take a frame off the air (called from the event loop by :class:`VirtualAir`)."""
        if packet.dst_ep == ZDO_ENDPOINT:
            self._receive_zdo(packet)
        elif packet.dst_ep in (self.endpoint, 0xFF):
            self._receive_zcl(packet)
        else:
            LOGGER.debug("%s: frame for absent endpoint %s dropped", self.ieee, packet.dst_ep)

    def _receive_zdo(self, packet: t.ZigbeePacket) -> None:
        frame = ZdoFrame.decode(packet.cluster_id, packet.data.serialize())
        if frame.is_response:
            self._resolve(("zdo", frame.command & 0x7FFF, frame.tsn, _source_nwk(packet)), frame.args)
            return
        reply = answer(self.zdo_node, frame)
        if reply is None:
            LOGGER.debug("%s: no answer to ZDO %s", self.ieee, frame.command.name)
            return
        assert packet.src is not None
        self._spawn(self._send_zdo(packet.src, reply.command, reply.tsn, reply.args))

    def _receive_zcl(self, packet: t.ZigbeePacket) -> None:
        data = packet.data.serialize()
        try:
            header = read_header(data)
        except ValueError as exc:
            LOGGER.debug("%s: frame too short for ZCL %r: %s", self.ieee, packet, exc)
            return
        payload = data[header.length:]
        waiting = self._pending.get(("zcl", packet.cluster_id, header.tsn, _source_nwk(packet)))
        reader = waiting[1] if waiting is not None and not waiting[0].done() else None
        try:
            if reader is not None:
                answer = reader(header, payload)
            else:
                command = self.read_command(packet.cluster_id, header, payload)
        except (KeyError, ValueError) as exc:
            LOGGER.debug("%s: undecodable ZCL frame %r: %s", self.ieee, packet, exc)
            self._default_response(packet, header, foundation.Status.MALFORMED_COMMAND)
            return
        if reader is not None:
            assert waiting is not None
            waiting[0].set_result(answer)
            return
        if command is None:
            status = (
                foundation.Status.UNSUP_GENERAL_COMMAND
                if header.general
                else foundation.Status.UNSUP_CLUSTER_COMMAND
            )
            self._default_response(packet, header, status)
            return
        side = _side_addressed(header.direction)
        served = self.server_clusters if side == ClusterType.Server else self.client_clusters
        if packet.cluster_id not in served:
            self._default_response(packet, header, foundation.Status.UNSUPPORTED_CLUSTER)
            return
        if header.general:
            self._handle_general(packet, header, command, side)
        else:
            self._spawn(self._dispatch_cluster_command(packet, header, command))

    def read_command(self, cluster_id: int, header: ZclHeader, payload: bytes) -> Any:
        """The command in a frame nobody waits for, or None if unknown (KeyError or ValueError
        if it cannot be read); device types may read some of their clusters' themselves."""
        return self._decode_zcl(cluster_id, header, payload)

    def _zigpy_reader(self, cluster_id: int) -> Reader:
        """Reads an answer on ``cluster_id`` with zigpy's schema (None if zigpy knows no such command)."""
        return lambda header, payload: self._decode_zcl(cluster_id, header, payload)

    @staticmethod
    def _decode_zcl(cluster_id: int, header: ZclHeader, rest: bytes) -> Any:
        """The command in a ZCL frame, decoded with zigpy's schema; None if unknown."""
        if header.general:
            if header.command_id not in foundation.GENERAL_COMMANDS:
                return None
            schema = foundation.GENERAL_COMMANDS[
                foundation.GeneralCommand(header.command_id)
            ].schema
        else:
            commands = (
                _cluster_class(cluster_id).client_commands
                if header.server_to_client
                else _cluster_class(cluster_id).server_commands
            )
            if header.command_id not in commands:
                return None
            schema = commands[header.command_id].schema
        command, _ = schema.deserialize(rest)
        return command

    def _handle_general(
        self,
        packet: t.ZigbeePacket,
        header: ZclHeader,
        command: Any,
        side: ClusterType,
    ) -> None:
        if header.command_id == foundation.GeneralCommand.Read_Attributes:
            records = self._read_attributes(packet.cluster_id, side, command.attribute_ids)
            response = foundation.GENERAL_COMMANDS[
                foundation.GeneralCommand.Read_Attributes_rsp
            ].schema(status_records=records)
            self._spawn(
                self._send_general_reply(
                    packet, header, foundation.GeneralCommand.Read_Attributes_rsp, response
                )
            )
        elif header.command_id != foundation.GeneralCommand.Default_Response:
            self._default_response(packet, header, foundation.Status.UNSUP_GENERAL_COMMAND)

    def _read_attributes(
        self, cluster_id: int, side: ClusterType, attribute_ids: Sequence[int]
    ) -> list[foundation.ReadAttributeRecord]:
        store = self._attributes.get((cluster_id, side), {})
        cluster_class = _cluster_class(cluster_id)
        records = []
        for attribute_id in attribute_ids:
            if attribute_id not in store:
                records.append(
                    foundation.ReadAttributeRecord(
                        attribute_id, foundation.Status.UNSUPPORTED_ATTRIBUTE
                    )
                )
                continue
            attr_def = cluster_class.find_attribute(attribute_id)
            records.append(
                foundation.ReadAttributeRecord(
                    attribute_id,
                    foundation.Status.SUCCESS,
                    foundation.TypeValue(type=attr_def.zcl_type, value=store[attribute_id]),
                )
            )
        return records

    async def _dispatch_cluster_command(
        self, packet: t.ZigbeePacket, header: ZclHeader, command: Any
    ) -> None:
        try:
            status = await self.handle_cluster_command(packet, header, command)
            if status is not None and (status != foundation.Status.SUCCESS
                                       or not header.disable_default_response):
                await self._send_default_response(packet, header, status)
        except zigpy.exceptions.DeliveryError as exc:
            # The handler's answer was lost on the air: what a lossy link does, not a bug.
            LOGGER.info("%s: the answer to %r was lost: %s", self.ieee, command, exc)
        except Exception as exc:
            # Answer as firmware with a failed handler would, so the sender is not left
            # waiting for a timeout; the fault is kept for the bench to report.
            LOGGER.exception("%s: handling %r failed", self.ieee, command)
            self.firmware_faults.append(exc)
            await self._send_default_response(packet, header, foundation.Status.FAILURE)

    def _default_response(
        self, packet: t.ZigbeePacket, header: ZclHeader, status: foundation.Status
    ) -> None:
        # The ZCL never answers a Default Response, nor a broadcast.
        if header.general and header.command_id == foundation.GeneralCommand.Default_Response:
            return
        if packet.dst is not None and packet.dst.addr_mode == t.AddrMode.Broadcast:
            return
        self._spawn(self._send_default_response(packet, header, status))

    async def _send_default_response(
        self, packet: t.ZigbeePacket, header: ZclHeader, status: foundation.Status
    ) -> None:
        response = foundation.GENERAL_COMMANDS[foundation.GeneralCommand.Default_Response].schema(
            command_id=header.command_id, status=status
        )
        await self._send_general_reply(
            packet, header, foundation.GeneralCommand.Default_Response, response
        )

    async def _send_general_reply(
        self,
        packet: t.ZigbeePacket,
        header: ZclHeader,
        command_id: foundation.GeneralCommand,
        response: Any,
    ) -> None:
        frame = zcl_header(header.tsn, command_id, cluster_specific=False,
                           server_to_client=_server_to_client(_flip(header.direction)),
                           disable_default_response=True) + response.serialize()
        assert packet.src is not None and packet.src_ep is not None
        await self._send_zcl(packet.src, packet.src_ep, packet.cluster_id, header.tsn, frame)

    # -- framing and transmission ------------------------------------------------------

    def _direction_for(self, cluster_id: int) -> foundation.Direction:
        uses = cluster_id in self.client_clusters
        serves = cluster_id in self.server_clusters
        if uses and serves:
            raise BadInput(
                f"{self.ieee} has both sides of cluster 0x{cluster_id:04X}; pass direction="
            )
        if uses:
            return foundation.Direction.Client_to_Server
        if serves:
            return foundation.Direction.Server_to_Client
        raise BadInput(f"{self.ieee} has no cluster 0x{cluster_id:04X}")

    @staticmethod
    def _encode_cluster_command(
        cluster_id: int,
        command: str | int,
        direction: foundation.Direction,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> tuple[int, bytes]:
        cluster_class = _cluster_class(cluster_id)
        commands = (
            cluster_class.server_commands
            if direction == foundation.Direction.Client_to_Server
            else cluster_class.client_commands
        )
        for command_def in commands.values():
            if command in (command_def.id, command_def.name):
                return command_def.id, command_def.schema(*args, **kwargs).serialize()
        raise BadInput(
            f"cluster {cluster_class.__name__} has no command {command!r} in direction {direction.name}"
        )

    def next_tsn(self) -> int:
        """The next transaction sequence number of the node's frames."""
        self._tsn = (self._tsn + 1) % 256
        return self._tsn

    async def _exchange(
        self, key: _PendingKey, send: Coroutine[Any, Any, None], timeout: float, read: Reader | None = None
    ) -> Any:
        """Run ``send`` and return the answer filed under ``key`` (a ZCL answer read by ``read``),
        waiting ``timeout`` at most.

        The answer is expected before the frame goes out: a reply on the virtual air can
        arrive before ``send`` returns.
        """
        loop = self._air.loop  # kept by the air: asyncio.get_running_loop costs a system call
        future: asyncio.Future[Any] = loop.create_future()
        self._pending[key] = (future, read)
        try:
            await send
            if not future.done():
                self._watch(loop, future, loop.time() + timeout)
            return await future
        finally:
            self._pending.pop(key, None)
            self._deadlines.pop(future, None)

    def _watch(self, loop: asyncio.AbstractEventLoop, future: asyncio.Future[Any], deadline: float) -> None:
        """Fail ``future`` with ``TimeoutError`` at loop time ``deadline`` unless it is done by then.

        One timer watches every wait of the node: it is set for the earliest deadline and,
        when it fires, fails what is due and sets itself for the next deadline. So an
        exchange answered in time costs no timer (``asyncio.timeout`` puts one on the loop's
        heap and cancels it for every exchange, a third of the cost of a bare exchange), and
        a node whose exchanges keep being answered costs one timer per ``timeout`` of loop
        time.
        """
        self._deadlines[future] = deadline
        if self._watchdog is None or self._watchdog_when > deadline:
            if self._watchdog is not None:
                self._watchdog.cancel()
            self._watchdog_when = deadline
            self._watchdog = loop.call_at(deadline, self._watchdog_due, deadline)

    def _watchdog_due(self, when: float) -> None:
        self._watchdog = None
        upcoming: asyncio.Future[Any] | None = None
        for future, deadline in list(self._deadlines.items()):
            if future.done():
                del self._deadlines[future]
            elif deadline <= when:
                del self._deadlines[future]
                future.set_exception(TimeoutError(f"{self.ieee}: no answer in time"))
            elif upcoming is None or deadline < self._deadlines[upcoming]:
                upcoming = future
        if upcoming is not None:
            deadline = self._deadlines.pop(upcoming)
            self._watch(asyncio.get_running_loop(), upcoming, deadline)

    def _resolve(self, key: _PendingKey, value: Any) -> bool:
        waiting = self._pending.get(key)
        if waiting is None or waiting[0].done():
            return False
        waiting[0].set_result(value)
        return True

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            LOGGER.warning("%s: frame handling failed", self.ieee, exc_info=task.exception())

    async def _zdo_exchange(
        self, command: zdo_t.ZDOCmd, tsn: int, args: list[Any], timeout: float
    ) -> list[Any]:
        send = self._send_zdo(self._upstream, command, tsn, args)
        result: list[Any] = await self._exchange(("zdo", command, tsn, self.upstream_nwk), send, timeout)
        return result

    def _send_zdo(
        self, destination: t.AddrModeAddress, command: zdo_t.ZDOCmd, tsn: int, args: list[Any]
    ) -> Coroutine[Any, Any, None]:
        data = ZdoFrame(command, tsn, args).encode()
        return self._transmit(destination, ZDO_ENDPOINT, ZDO_ENDPOINT, ZDO_PROFILE_ID, command, tsn, data)

    def _send_zcl(
        self, destination: t.AddrModeAddress, dst_ep: int, cluster_id: int, tsn: int, frame: bytes
    ) -> Coroutine[Any, Any, None]:
        return self._transmit(destination, self.endpoint, dst_ep, self.profile_id, cluster_id, tsn, frame)

    def _transmit(
        self,
        destination: t.AddrModeAddress,
        src_ep: int,
        dst_ep: int,
        profile_id: int,
        cluster_id: int,
        tsn: int,
        data: bytes,
    ) -> Coroutine[Any, Any, None]:
        """The air's transmission of one frame from the node, to be awaited (the send helpers
        hand it on rather than wrap it, a coroutine frame less per frame)."""
        return self._air.transmit(
            t.ZigbeePacket(
                src=self._src,
                src_ep=src_ep,
                dst=destination,
                dst_ep=dst_ep,
                tsn=tsn,
                profile_id=profile_id,
                cluster_id=cluster_id,
                data=t.SerializableBytes(data),
                lqi=255,
                rssi=-40,
            )
        )


