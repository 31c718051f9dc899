"""The CH's end of the GBCS tunnels: the Smart Energy Tunneling server on the coordinator.

Every GBCS message between the CH and a HAN device crosses the air in the Tunneling
cluster (definitions in :mod:`hanbench.radio.se_clusters`):

* A device opens a tunnel with RequestTunnel (GB-HRGP, manufacturer code 0xFFFF, no flow
  control); the CH answers RequestTunnelResponse with a tunnel ID and its maximum incoming
  transfer size. A request for another protocol gets PROTOCOL_NOT_SUPPORTED, one asking for
  flow control FLOW_CONTROL_NOT_SUPPORTED. A device that asks again (after a rejoin) gets a
  new tunnel; its old one is closed. Bench choice: every device opens its tunnel to the CH.
  (GBCS 10.2.2.1 has the CH open the tunnel to an ESME, HCALCS or PPMID; the messages that
  then flow are the same.)
* :meth:`TunnelServer.send` encodes a GBCS command (bytes from here on: this is where it
  leaves for the air) and pushes it to an awake device as TransferData, waiting for the
  device's Default Response (a TransferDataError answer raises
  :class:`~hanbench.radio.tunnel_errors.TransferDataRefused`). A message for a **sleepy**
  device (registered with :meth:`TunnelServer.register_sleepy`, or whose zigpy node
  descriptor says its receiver is off when idle) goes into the :class:`SleepyQueue` and
  raises "Tunnel Message Pending" on its mirror; the device collects it with GB-HRGP GET,
  answered GET-RESPONSE (remaining count, message). The flag drops when the queue for the
  device is empty (after the last GET, or after the last message expired).
* A message longer than one TransferData to the device carries goes in GBCS General Block
  Transfer blocks (:mod:`hanbench.gbcs.gbt`, :mod:`hanbench.radio.block_transfer`). One
  TransferData carries what the device said it takes (RequestTunnel's maximum incoming
  transfer size) and no more than the CH's radio sends at once: a radio that sends no APS
  fragments (an EZSP stick through bellows, and the virtual radio, which refuses a longer
  unicast as the stick does) sends one frame, 68 octets
  (:data:`~hanbench.radio.se_clusters.ONE_FRAME_TRANSFER_OCTETS`). To an awake device
  each block waits for the device's acknowledgement; a sleepy device's queued message is served
  one streamed block per GET, GET-RESPONSE's remaining count counting its blocks still to
  come. Blocks from a device are put back together, acknowledged unless streamed, and the
  whole message goes to the listeners; a lost or foreign block, or a message past the CH's
  limit, is reported to the error listeners.
* TransferData from a device is checked: unknown tunnel ID (NO_SUCH_TUNNEL), a tunnel of
  another device (WRONG_DEVICE), more than the CH's maximum incoming transfer size
  (DATA_OVERFLOW). A refusal is answered TransferDataError with the frame's TSN, logged,
  and reported to the error listeners; nothing is dropped silently. An accepted frame gets
  its Default Response (if asked for) and its message (a bare GBCS message, or a GB-HRGP
  PUT's content) goes to every :meth:`TunnelServer.on_message` listener.

How it hooks into zigpy, as the CH's OTA server does (:mod:`hanbench.hub.cluster_hook`): for
every device the application knows or learns of it listens for the Tunneling commands a
client sends, and answers through the device's Tunneling client cluster object with the
request's TSN.

Default maximum incoming transfer size:
:data:`~hanbench.radio.se_clusters.DEFAULT_MAXIMUM_INCOMING_TRANSFER_SIZE` (configurable).
"""

from __future__ import annotations

import asyncio
import enum
import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import zigpy.exceptions
import zigpy.types as t
from zigpy.application import ControllerApplication
from zigpy.device import Device
from zigpy.zcl import ClusterType, foundation

from hanbench.errors import BadInput, CheckFailed, HanbenchError
from hanbench.gbcs.entity import EntityId
from hanbench.gbcs.frame import GbcsMessage, encode_message
from hanbench.gbcs.gbt import is_block
from hanbench.hub.cluster_hook import DeviceHooks, request_listeners
from hanbench.hub.mirror import MirrorServer
from hanbench.hub.sleepy_queue import QueuedMessage, SleepyQueue
from hanbench.listeners import Listeners
from hanbench.radio.block_transfer import BlockTransfer, BlockTransferConfig, streamed
from hanbench.radio.addresses import entity_of, eui64_of
from hanbench.radio.gb_hrgp import GET_RESPONSE_OVERHEAD, HrgpFormatError, HrgpFrame, HrgpKind
from hanbench.radio.se_clusters import (
    DEFAULT_MAXIMUM_INCOMING_TRANSFER_SIZE,
    ONE_FRAME_TRANSFER_OCTETS,
    STANDARD_PROTOCOL_MANUFACTURER,
    NotificationFlags,
    SupportedProtocol,
    TransferDataStatus,
    Tunneling,
    TunnelProtocol,
    TunnelStatus,
    check_maximum_incoming_transfer_size,
)
from hanbench.radio.tunnel_errors import MessageTooLarge, NoTunnel, TransferDataRefused, check_fits

LOGGER = logging.getLogger(__name__)

#: RequestTunnelResponse's tunnel ID when no tunnel was made.
NO_TUNNEL_ID = 0xFFFF

MessageListener = Callable[[EntityId, bytes], None]
"""Called with the sending device and each GBCS message it sent up the tunnel."""
ErrorListener = Callable[[EntityId, HanbenchError], None]
"""Called with the device and what went wrong on its tunnel."""

_S2C = Tunneling.ClientCommandDefs
_C2S = Tunneling.ServerCommandDefs


class Delivery(enum.Enum):
    """What :meth:`TunnelServer.send` did with a message."""

    SENT = "sent"  # the awake device acknowledged it
    QUEUED = "queued"  # it waits in the sleepy queue for the device's next GET
    UNCONFIRMED = "unconfirmed"  # sent to the awake device, whose acknowledgement never came back


class NoMirror(BadInput):
    """A message for a sleepy device that has no mirror to flag it on: create the mirror first."""


@dataclass(frozen=True)
class TunnelServerConfig:
    """``maximum_incoming_transfer_size``: the largest TransferData the CH accepts (octets).
    ``transfer_octets``: the largest TransferData data the CH's radio sends at once (default
    one frame, as every radio the CH runs on; None: as large as the device takes, for a radio
    that would send APS fragments); ``block_transfer``: GBCS
    General Block Transfer for messages longer than one TransferData.
    """

    maximum_incoming_transfer_size: int = DEFAULT_MAXIMUM_INCOMING_TRANSFER_SIZE
    transfer_octets: int | None = ONE_FRAME_TRANSFER_OCTETS
    block_transfer: BlockTransferConfig = BlockTransferConfig()

    def __post_init__(self) -> None:
        check_maximum_incoming_transfer_size(self.maximum_incoming_transfer_size)
        if self.transfer_octets is not None:
            check_maximum_incoming_transfer_size(self.transfer_octets)


@dataclass(frozen=True)
class Tunnel:
    """An open tunnel: its ID, its device, and the largest TransferData the device accepts."""

    tunnel_id: int
    device: EntityId
    maximum_incoming_transfer_size: int


class TunnelServer:
    """The CH's Tunneling server on one zigpy application; see the module docstring."""

    def __init__(
        self,
        mirrors: MirrorServer,
        queue: SleepyQueue | None = None,
        config: TunnelServerConfig | None = None,
    ) -> None:
        self.mirrors = mirrors
        self.queue = queue if queue is not None else SleepyQueue()
        self.config = config if config is not None else TunnelServerConfig()
        self._hooks = DeviceHooks(
            "tunnel server",
            request_listeners({
                _C2S.request_tunnel.schema: self._on_request_tunnel,
                _C2S.close_tunnel.schema: self._on_close_tunnel,
                _C2S.transfer_data_client_to_server.schema: self._on_transfer_data,
                _C2S.transfer_data_error_client_to_server.schema: self._on_transfer_data_error,
                _C2S.get_supported_tunnel_protocols.schema: self._on_get_supported_protocols,
            }),
            on_removed=lambda device: self._close(entity_of(device.ieee)),
        )
        self._tunnels: dict[int, Tunnel] = {}
        self._sleepy: dict[EntityId, bool] = {}
        self._ids = itertools.cycle(range(NO_TUNNEL_ID))
        self._message_listeners: Listeners[MessageListener] = Listeners()
        self._opened_listeners: Listeners[Callable[[EntityId], None]] = Listeners()
        self._error_listeners: Listeners[ErrorListener] = Listeners()
        self._block_transfers: dict[EntityId, BlockTransfer] = {}
        # Per sleepy device: the message being served in blocks, its blocks still to go, and when
        # the last one went (the device drops a part-message its next block does not follow in time).
        self._serving: dict[EntityId, tuple[QueuedMessage, list[bytes], float]] = {}
        self.queue.on_expired(self._expired)

    # -- installation ------------------------------------------------------------------

    def install(self, app: ControllerApplication) -> None:
        """Serve tunnels for every device of ``app``, now and as they join."""
        self._hooks.install(app)

    def uninstall(self) -> None:
        """Stop serving tunnels; open tunnels are forgotten."""
        if not self._hooks.installed:
            return
        self._hooks.uninstall()
        self._tunnels.clear()

    # -- what the CH composition calls --------------------------------------------------

    def register_sleepy(self, device: EntityId | t.EUI64 | str, sleepy: bool = True) -> None:
        """Say whether ``device`` is sleepy, overriding what its node descriptor says."""
        self._sleepy[entity_of(device)] = sleepy

    def is_sleepy(self, device: EntityId | t.EUI64 | str) -> bool:
        """Whether messages for ``device`` wait in the sleepy queue rather than go now."""
        entity = entity_of(device)
        if entity in self._sleepy:
            return self._sleepy[entity]
        zigpy_device = self._hooks.app.devices.get(eui64_of(entity)) if self._hooks.installed else None
        node_desc = zigpy_device.node_desc if zigpy_device is not None else None
        return node_desc is not None and not node_desc.is_receiver_on_when_idle

    def tunnel_of(self, device: EntityId | t.EUI64 | str) -> Tunnel | None:
        """The open tunnel of ``device``, if any."""
        entity = entity_of(device)
        return next((tunnel for tunnel in self._tunnels.values() if tunnel.device == entity), None)

    def on_message(self, listener: MessageListener) -> Callable[[], None]:
        """Call ``listener(device, message)`` with every GBCS message a device sends; returns a remover."""
        return self._message_listeners.add(listener)

    def on_opened(self, listener: Callable[[EntityId], None]) -> Callable[[], None]:
        """Call ``listener(device)`` each time a device has a new tunnel (its answer sent); returns a remover."""
        return self._opened_listeners.add(listener)

    def on_error(self, listener: ErrorListener) -> Callable[[], None]:
        """Call ``listener(device, error)`` for every refused transfer on any tunnel; returns a remover."""
        return self._error_listeners.add(listener)

    async def send(self, device: EntityId | t.EUI64 | str, command: GbcsMessage) -> Delivery:
        """Deliver a GBCS command to ``device``: now if it is awake, else through its queue.

        Raises :class:`NoMirror` for a sleepy device without a mirror, :class:`NoTunnel`
        for an awake device that has not opened its tunnel, :class:`MessageTooLarge` when
        the device takes less than one GBT block,
        :class:`~hanbench.radio.block_transfer.BlockNotAcknowledged` (a ``TimeoutError``)
        when the device does not acknowledge a block, :class:`TransferDataRefused` when the device
        answers TransferDataError, and zigpy's ``DeliveryError`` if the frame does not
        get through.
        """
        entity = entity_of(device)
        tunnel = self.tunnel_of(entity)
        message = encode_message(command)
        if self.is_sleepy(entity):
            mirror = self.mirrors.get(entity)
            if mirror is None:
                raise NoMirror(f"{entity} is sleepy but has no mirror to flag a pending message on")
            if tunnel is not None and len(message) > self._one_transfer(tunnel) - GET_RESPONSE_OVERHEAD:
                streamed(message, self._one_transfer(tunnel) - GET_RESPONSE_OVERHEAD)  # no block fits: refused now
            self.queue.put(entity, message, command.originator_counter)
            mirror.set(NotificationFlags.TUNNEL_MESSAGE_PENDING)
            return Delivery.QUEUED
        if tunnel is None:
            raise NoTunnel(f"{entity} has not opened a tunnel to the CH")
        one = self._one_transfer(tunnel)
        if len(message) <= one:
            await self._transfer(entity, tunnel, message)
        else:
            await self._block_transfer(entity).send(message, one)
        return Delivery.SENT

    def _one_transfer(self, tunnel: Tunnel) -> int:
        """The most octets one TransferData to ``tunnel``'s device carries: what it takes, and
        what the CH's radio sends at once."""
        limit = self.config.transfer_octets
        return tunnel.maximum_incoming_transfer_size if limit is None else min(limit, tunnel.maximum_incoming_transfer_size)

    async def _transfer(self, entity: EntityId, tunnel: Tunnel, data: bytes) -> None:
        """One TransferData to an awake device, acknowledged by its Default Response."""
        check_fits(len(data), tunnel.maximum_incoming_transfer_size)
        rsp = await self._tunneling(entity).client_command(
            _S2C.transfer_data_server_to_client.id,
            tunnel_id=tunnel.tunnel_id,
            data=t.Bytes(data),
            expect_reply=True,
            disable_default_response=False,
        )
        if isinstance(rsp, _C2S.transfer_data_error_client_to_server.schema):
            raise self._refused_by_device(entity, rsp)
        if rsp.status != foundation.Status.SUCCESS:
            raise CheckFailed(f"{entity} answered TransferData with Default Response {rsp.status.name}")

    def _block_transfer(self, entity: EntityId) -> BlockTransfer:
        """The CH's end of GBT on ``entity``'s tunnel."""
        if entity not in self._block_transfers:
            async def send_block(data: bytes) -> None:
                tunnel = self.tunnel_of(entity)
                if tunnel is None:
                    raise NoTunnel(f"{entity} closed its tunnel during a block transfer")
                await self._transfer(entity, tunnel, data)

            self._block_transfers[entity] = BlockTransfer(
                f"CH to {entity}", send_block, lambda message: self._message_listeners(entity, message),
                lambda error: self._report(entity, error), self.config.block_transfer)
        return self._block_transfers[entity]

    # -- request handlers ----------------------------------------------------------------

    async def _on_request_tunnel(self, device: Device, hdr: foundation.ZCLHeader, cmd: Any) -> None:
        entity = entity_of(device.ieee)
        status = TunnelStatus.SUCCESS
        if cmd.protocol_id != TunnelProtocol.GB_HRGP or cmd.manufacturer_code != STANDARD_PROTOCOL_MANUFACTURER:
            status = TunnelStatus.PROTOCOL_NOT_SUPPORTED
        elif cmd.flow_control_support:
            status = TunnelStatus.FLOW_CONTROL_NOT_SUPPORTED
        tunnel_id = NO_TUNNEL_ID
        if status == TunnelStatus.SUCCESS:
            self._close(entity)
            tunnel_id = self._free_id()
            self._tunnels[tunnel_id] = Tunnel(tunnel_id, entity, cmd.maximum_incoming_transfer_size)
            LOGGER.info("tunnel %d open to %s", tunnel_id, entity)
        else:
            LOGGER.warning("tunnel request from %s refused: %s", entity, status.name)
        await self._tunneling(entity).client_command(
            _S2C.request_tunnel_response.id,
            tunnel_id=tunnel_id,
            tunnel_status=status,
            maximum_incoming_transfer_size=self.config.maximum_incoming_transfer_size,
            tsn=hdr.tsn,
        )
        if tunnel_id != NO_TUNNEL_ID:
            self._opened_listeners(entity)

    async def _on_close_tunnel(self, device: Device, hdr: foundation.ZCLHeader, cmd: Any) -> None:
        tunnel = self._tunnels.get(cmd.tunnel_id)
        if tunnel is not None and tunnel.device == entity_of(device.ieee):
            del self._tunnels[cmd.tunnel_id]
            LOGGER.info("tunnel %d closed by %s", cmd.tunnel_id, tunnel.device)
        await self._default_response(device, hdr, foundation.Status.SUCCESS)

    async def _on_get_supported_protocols(self, device: Device, hdr: foundation.ZCLHeader, cmd: Any) -> None:
        protocols = [SupportedProtocol(manufacturer_code=STANDARD_PROTOCOL_MANUFACTURER,
                                       protocol_id=TunnelProtocol.GB_HRGP)]
        await self._tunneling(entity_of(device.ieee)).client_command(
            _S2C.supported_tunnel_protocols_response.id,
            protocol_list_complete=True,
            protocols=protocols[cmd.protocol_offset:],
            tsn=hdr.tsn,
        )

    async def _on_transfer_data(self, device: Device, hdr: foundation.ZCLHeader, cmd: Any) -> None:
        entity = entity_of(device.ieee)
        tunnel = self._tunnels.get(cmd.tunnel_id)
        if tunnel is None:
            await self._refuse(entity, hdr, cmd.tunnel_id, TransferDataStatus.NO_SUCH_TUNNEL,
                               "no tunnel has this ID; send RequestTunnel first")
            return
        if tunnel.device != entity:
            await self._refuse(entity, hdr, cmd.tunnel_id, TransferDataStatus.WRONG_DEVICE,
                               f"the tunnel belongs to {tunnel.device}")
            return
        if len(cmd.data) > self.config.maximum_incoming_transfer_size:
            await self._refuse(entity, hdr, cmd.tunnel_id, TransferDataStatus.DATA_OVERFLOW,
                               f"{len(cmd.data)} octets, the CH takes {self.config.maximum_incoming_transfer_size}")
            return
        try:
            frame = HrgpFrame.decode(cmd.data)
        except HrgpFormatError as exc:
            await self._default_response(device, hdr, foundation.Status.MALFORMED_COMMAND)
            self._report(entity, exc)
            return
        if frame.kind is HrgpKind.GET:
            await self._answer_get(tunnel, hdr)
            return
        await self._default_response(device, hdr, foundation.Status.SUCCESS)
        if frame.kind is HrgpKind.GET_RESPONSE:
            self._report(entity, HrgpFormatError("a device sent GET-RESPONSE, which only the CH sends"))
            return
        if is_block(frame.message):  # acknowledged unless streamed, or the device sleeps and cannot hear it
            self._block_transfer(entity).receive(frame.message, acknowledge=not self.is_sleepy(entity))
            return
        self._message_listeners(entity, frame.message)

    async def _on_transfer_data_error(self, device: Device, hdr: foundation.ZCLHeader, cmd: Any) -> None:
        self._report(entity_of(device.ieee), self._refused_by_device(entity_of(device.ieee), cmd))

    async def _answer_get(self, tunnel: Tunnel, hdr: foundation.ZCLHeader) -> None:
        """GET-RESPONSE with the oldest queued message; it leaves the queue once sent.

        A message too long for one GET-RESPONSE is served one streamed GBT block per GET, its
        remaining count counting its blocks still to come; it leaves the queue with its last.
        A GET-RESPONSE the device's stack did not acknowledge (lost on the air) is logged and
        moves nothing on: the device's next GET gets the same again.
        """
        waiting = self.queue.peek(tunnel.device)
        queued: QueuedMessage | None = waiting[0] if waiting else None
        others = max(len(waiting) - 1, 0)
        piece, blocks_left, in_blocks = (queued.message if queued else b""), 0, False
        room = self._one_transfer(tunnel) - GET_RESPONSE_OVERHEAD
        if queued is not None and len(queued.message) > room:
            try:
                piece, blocks_left = self._next_block(tunnel.device, queued, room)
                in_blocks = True
            except MessageTooLarge as exc:
                self.queue.pop(tunnel.device)
                self._report(tunnel.device, exc)
                piece, queued = b"", None
        payload = HrgpFrame(HrgpKind.GET_RESPONSE, piece, others + blocks_left).encode()
        try:
            await self._tunneling(tunnel.device).client_command(
                _S2C.transfer_data_server_to_client.id, tunnel_id=tunnel.tunnel_id, data=t.Bytes(payload), tsn=hdr.tsn
            )
        except zigpy.exceptions.DeliveryError as exc:
            LOGGER.info("the GET-RESPONSE to %s did not reach it; its next GET gets the same: %s", tunnel.device, exc)
        else:
            if queued is not None:
                self._served(tunnel.device, queued, piece if in_blocks else None)
        self._lower_pending_flag(tunnel.device)

    def _served(self, device: EntityId, queued: QueuedMessage, block: bytes | None) -> None:
        """``queued`` (its ``block``, if served in blocks) reached ``device``: move on past it.

        Unless another GET's answer already did: a device whose wait for a GET-RESPONSE ran out
        asks again while the first answer is still on its way (held for the device's next poll),
        so two answers carry the same block, or message, and only the first moves on; the
        second moving on too would skip a block, or a queued message, the device never had.
        """
        if block is not None:
            serving = self._serving.get(device)
            if serving is None or serving[0] is not queued or not serving[1] or serving[1][0] != block:
                return
            serving[1].pop(0)
            if serving[1]:
                self._serving[device] = (queued, serving[1], asyncio.get_running_loop().time())
                return
            del self._serving[device]
        waiting = self.queue.peek(device)
        if waiting and waiting[0] is queued:
            self.queue.pop(device)

    def _next_block(self, device: EntityId, queued: QueuedMessage, room: int) -> tuple[bytes, int]:
        """The next block of ``queued`` for ``device`` and how many follow it (taken once it is sent).

        A device that asks again later than the GBT reassembly timeout after its last block (it
        slept before fetching the rest) has dropped the blocks it had: it gets the message again
        from its first block."""
        serving = self._serving.get(device)
        now = asyncio.get_running_loop().time()
        if (serving is None or serving[0] is not queued
                or now - serving[2] > self.config.block_transfer.reassembly_timeout_s):
            serving = self._serving[device] = (queued, streamed(queued.message, room), now)
        blocks = serving[1]
        return blocks[0], len(blocks) - 1

    # -- helpers ---------------------------------------------------------------------------

    def _expired(self, queued: QueuedMessage) -> None:
        self._lower_pending_flag(queued.device)

    def _lower_pending_flag(self, device: EntityId) -> None:
        mirror = self.mirrors.get(device)
        if mirror is not None and self.queue.pending(device) == 0:
            mirror.clear(NotificationFlags.TUNNEL_MESSAGE_PENDING)

    async def _refuse(
        self, entity: EntityId, hdr: foundation.ZCLHeader, tunnel_id: int, status: TransferDataStatus, detail: str
    ) -> None:
        self._report(entity, TransferDataRefused("hub", tunnel_id, status, detail))
        await self._tunneling(entity).client_command(
            _S2C.transfer_data_error_server_to_client.id, tunnel_id=tunnel_id, status=status, tsn=hdr.tsn
        )

    def _refused_by_device(self, entity: EntityId, cmd: Any) -> TransferDataRefused:
        return TransferDataRefused("device", cmd.tunnel_id, cmd.status, f"answer from {entity}")

    def _report(self, entity: EntityId, error: HanbenchError) -> None:
        LOGGER.warning("tunnel of %s: %s", entity, error)
        self._error_listeners(entity, error)

    async def _default_response(self, device: Device, hdr: foundation.ZCLHeader, status: foundation.Status) -> None:
        """Answer a device's command with a Default Response; one that does not reach the device
        is logged, and the CH goes on with what it received, at every call site alike.

        The command arrived; only its acknowledgement was lost (on the air, or a GSME asleep
        again). Acting on it all the same keeps a device's response or alert from vanishing
        with nobody told, and a malformed frame reported, a closed tunnel closed.
        """
        if hdr.frame_control.disable_default_response and status == foundation.Status.SUCCESS:
            return
        entity = entity_of(device.ieee)
        try:
            await self._tunneling(entity).general_command(
                foundation.GeneralCommand.Default_Response, hdr.command_id, status, tsn=hdr.tsn
            )
        except zigpy.exceptions.DeliveryError as exc:
            LOGGER.info("the Default Response (%s) to %s's command 0x%02X did not reach it: %s",
                        status.name, entity, hdr.command_id, exc)

    def _free_id(self) -> int:
        return next(i for i in self._ids if i not in self._tunnels)

    def _close(self, entity: EntityId) -> None:
        """Forget ``entity``'s tunnel, and with it the blocks under way on it both ways: a
        device with a new tunnel has lost what it held of a message, so a queued one is served
        again from its first block."""
        tunnel = self.tunnel_of(entity)
        if tunnel is not None:
            del self._tunnels[tunnel.tunnel_id]
        self._serving.pop(entity, None)
        blocks = self._block_transfers.get(entity)
        if blocks is not None:
            blocks.close()

    def _tunneling(self, entity: EntityId) -> Tunneling:
        """zigpy's object for the Tunneling client cluster of ``entity``."""
        device = self._hooks.app.devices.get(eui64_of(entity))
        if device is None:
            raise NoTunnel(f"{entity} is not on the CH's network")
        try:
            return device.find_cluster(Tunneling.cluster_id, ClusterType.Client)  # type: ignore[return-value]
        except ValueError:
            raise NoTunnel(f"{entity} has no Tunneling client cluster") from None
