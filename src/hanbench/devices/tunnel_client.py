"""A HAN device's end of its GBCS tunnel to the CH: the Smart Energy Tunneling client.

The device opens the tunnel after joining (RequestTunnel, GB-HRGP); from then on:

* :meth:`TunnelClient.send` carries a response or alert up to the CH as TransferData and
  waits for the CH's answer: a Default Response, or TransferDataError, which raises
  :class:`~hanbench.radio.tunnel_errors.TransferDataRefused` (unknown tunnel, overflow).
  A sleepy client wraps its messages in GB-HRGP PUT, as GBCS has a GSME do.
* A message longer than the CH takes in one TransferData goes in GBCS General Block
  Transfer blocks (:mod:`hanbench.radio.block_transfer`): acknowledged one by one from an
  awake device, streamed from a sleepy one. Blocks the CH sends are put back together
  (acknowledged unless streamed, as the blocks a sleepy device collects with GET are) and the
  whole message reaches the :meth:`on_message` listeners; a lost block or a message past the
  device's limit is reported to the :meth:`on_error` listeners instead.
* Messages the CH pushes (TransferData to the client) reach every :meth:`on_message`
  listener. One for another tunnel, or larger than this client's maximum incoming transfer
  size, is answered TransferDataError and reported to the :meth:`on_error` listeners.
* :meth:`fetch_pending` is the sleepy device's collection at wake: GB-HRGP GET, answered by
  GET-RESPONSE (with the GET's TSN) carrying one queued message (or GBT block) and the number
  still queued, repeated until nothing remains; a GET that brings no GET-RESPONSE (lost
  either way) is sent again, so one lost frame does not end the collection.

Frames go through :class:`~hanbench.devices.node.EmulatedNode`: the node's device type
routes the Tunneling cluster's commands to :meth:`TunnelClient.handle_command` from its
``handle_cluster_command``. The node must list Tunneling (0x0704) among its client clusters.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import zigpy.exceptions
import zigpy.types as t
from zigpy.zcl import foundation

from hanbench.devices.node import DEFAULT_REPLY_TIMEOUT_S, EmulatedNode
from hanbench.errors import BadInput, CheckFailed, HanbenchError
from hanbench.gbcs.gbt import is_block
from hanbench.listeners import Listeners
from hanbench.radio.block_transfer import BlockTransfer, BlockTransferConfig, streamed
from hanbench.radio.gb_hrgp import HrgpFrame, HrgpKind
from hanbench.radio.se_clusters import (
    DEFAULT_MAXIMUM_INCOMING_TRANSFER_SIZE,
    STANDARD_PROTOCOL_MANUFACTURER,
    TransferDataStatus,
    Tunneling,
    TunnelProtocol,
    TunnelStatus,
    check_maximum_incoming_transfer_size,
)
from hanbench.radio.tunnel_errors import NoTunnel, TransferDataRefused, TunnelRefused, check_fits
from hanbench.radio.zcl_frames import ZclHeader

LOGGER = logging.getLogger(__name__)

MessageListener = Callable[[bytes], None]
ErrorListener = Callable[[HanbenchError], None]

_S2C = Tunneling.ClientCommandDefs
_C2S = Tunneling.ServerCommandDefs


@dataclass(frozen=True)
class TunnelClientConfig:
    """``maximum_incoming_transfer_size``: what the device tells the CH it accepts (octets).
    ``response_timeout_s``: how long each request waits for the CH's answer (loop seconds).
    ``max_fetch``: how many messages (or GBT blocks) one :meth:`TunnelClient.fetch_pending`
    collects at most, so a CH that keeps saying "more" cannot keep the device awake for ever.
    ``block_transfer``: GBCS General Block Transfer for messages longer than one TransferData;
    its ``retries`` also bound how often a sleepy device sends a GET again that brought nothing.
    """

    maximum_incoming_transfer_size: int = DEFAULT_MAXIMUM_INCOMING_TRANSFER_SIZE
    response_timeout_s: float = DEFAULT_REPLY_TIMEOUT_S
    max_fetch: int = 64
    block_transfer: BlockTransferConfig = BlockTransferConfig()

    def __post_init__(self) -> None:
        check_maximum_incoming_transfer_size(self.maximum_incoming_transfer_size)
        if self.response_timeout_s <= 0:
            raise BadInput(f"tunnel response timeout must be > 0 s, got {self.response_timeout_s}")
        if self.max_fetch < 1:
            raise BadInput(f"max_fetch must be >= 1, got {self.max_fetch}")


class TunnelClient:
    """One device's tunnel to the CH; see the module docstring."""

    def __init__(self, node: EmulatedNode, *, sleepy: bool = False, config: TunnelClientConfig | None = None) -> None:
        if Tunneling.cluster_id not in node.client_clusters:
            raise BadInput(f"{node.ieee} does not list Tunneling among its client clusters")
        self.node = node
        self.sleepy = sleepy
        self.config = config if config is not None else TunnelClientConfig()
        #: The open tunnel's ID (``None`` until :meth:`open` succeeds).
        self.tunnel_id: int | None = None
        #: What the CH said it accepts per TransferData.
        self.server_maximum_incoming_transfer_size: int | None = None
        self._message_listeners: Listeners[MessageListener] = Listeners()
        self._error_listeners: Listeners[ErrorListener] = Listeners()
        self._opening: asyncio.Task[int] | None = None
        self._blocks = BlockTransfer(f"{node.ieee} to the CH", self._send_block, self._message_listeners,
                                     self._report, self.config.block_transfer)

    # -- public API ------------------------------------------------------------------

    def on_message(self, listener: MessageListener) -> Callable[[], None]:
        """Call ``listener(message)`` with every GBCS message the CH pushes; returns a remover."""
        return self._message_listeners.add(listener)

    def on_error(self, listener: ErrorListener) -> Callable[[], None]:
        """Call ``listener(error)`` for every transfer this client refused; returns a remover."""
        return self._error_listeners.add(listener)

    async def open(self) -> int:
        """RequestTunnel (GB-HRGP, no flow control); the tunnel ID.

        Callers at the same time share one request (the device shell opening its tunnel, its
        outbox finding none): two requests would leave the CH and the device each holding
        the tunnel ID of a different one. Raises :class:`TunnelRefused` if the CH answers
        other than SUCCESS, ``TimeoutError`` if it does not answer, zigpy's
        ``DeliveryError`` if the frame does not get out.
        """
        if self._opening is None or self._opening.done():
            self._opening = asyncio.get_running_loop().create_task(self._request_tunnel(),
                                                                   name=f"tunnel-open-{self.node.ieee}")
        return await asyncio.shield(self._opening)

    def forget(self) -> None:
        """The device is switched off: its tunnel, kept in RAM, is gone (a request under way too)."""
        if self._opening is not None:
            self._opening.cancel()
            self._opening = None
        self.tunnel_id = None
        self.server_maximum_incoming_transfer_size = None
        self._blocks.close()

    async def ensure_open(self) -> None:
        """Open the tunnel unless it is open (after a power cycle the device has none)."""
        if self.tunnel_id is None:
            await self.open()

    async def _request_tunnel(self) -> int:
        rsp = await self._request(
            _C2S.request_tunnel,
            protocol_id=TunnelProtocol.GB_HRGP,
            manufacturer_code=STANDARD_PROTOCOL_MANUFACTURER,
            flow_control_support=False,
            maximum_incoming_transfer_size=self.config.maximum_incoming_transfer_size,
        )
        if not isinstance(rsp, _S2C.request_tunnel_response.schema):
            raise CheckFailed(f"the CH answered RequestTunnel with {rsp!r}")
        if rsp.tunnel_status != TunnelStatus.SUCCESS:
            raise TunnelRefused(rsp.tunnel_status)
        self.tunnel_id = rsp.tunnel_id
        self.server_maximum_incoming_transfer_size = rsp.maximum_incoming_transfer_size
        return self.tunnel_id

    async def send(self, message: bytes) -> None:
        """Send a GBCS message (response or alert) to the CH (as PUT if this client is sleepy).

        A message longer than the CH takes in one TransferData goes in GBCS General Block
        Transfer blocks: each acknowledged before the next from an awake device, all streamed
        from a sleepy one (which could not wait for an acknowledgement). One that cannot go in
        blocks either raises :class:`~hanbench.radio.tunnel_errors.MessageTooLarge`.
        """
        room = self._room()
        if room is None or len(message) <= room:
            await self._send_block(bytes(message))
        elif self.sleepy:
            for block in streamed(bytes(message), room):
                await self._send_block(block)
        else:
            await self._blocks.send(bytes(message), room)

    def _room(self) -> int | None:
        """The most message octets one TransferData to the CH carries (None: not known yet)."""
        if self.server_maximum_incoming_transfer_size is None:
            return None
        return self.server_maximum_incoming_transfer_size - len(HrgpFrame(self._kind).encode())

    @property
    def _kind(self) -> HrgpKind | None:
        return HrgpKind.PUT if self.sleepy else None

    async def _send_block(self, data: bytes) -> None:
        """One TransferData up the tunnel, acknowledged by the CH's Default Response."""
        rsp = await self._transfer(HrgpFrame(self._kind, data).encode())
        if rsp.status != foundation.Status.SUCCESS:
            raise CheckFailed(f"the CH answered TransferData with Default Response {rsp.status.name}")

    async def fetch_pending(self) -> list[bytes]:
        """Collect the messages the CH holds for this device (GET until none remains).

        The device asks again at once while the CH says more remain, as GBCS's remaining count
        is there for (Silicon Labs' GSME sends its next GET from the GET-RESPONSE's handler),
        and it asks again for what one GET did not bring (see :meth:`_get`): a message in GBT
        blocks comes one block per GET, and a device that ended its wake at the first lost
        frame would drop the blocks it had after the reassembly timeout, long before its next
        wake, and on a lossy link never collect the whole message.
        """
        messages: list[bytes] = []
        for _ in range(self.config.max_fetch):
            frame = await self._get()
            if is_block(frame.message):  # streamed to a sleepy device; the whole message to the listeners
                self._blocks.receive(frame.message, acknowledge=False)
            elif frame.message:
                messages.append(frame.message)
            if frame.remaining == 0:
                break
        return messages

    async def _get(self) -> HrgpFrame:
        """One GET and the CH's GET-RESPONSE; a GET that brings none is sent again, up to the
        GBT ``retries`` times, as a block sender sends a block again.

        Asking again is safe however the first GET failed. The CH moves on to its next block
        only once the device's stack acknowledged the GET-RESPONSE; a GET-RESPONSE that came
        after this side stopped waiting reaches :meth:`handle_command` and is taken there; a
        block that comes twice is taken once (:class:`~hanbench.radio.block_transfer.BlockTransfer`).
        """
        for attempt in itertools.count(1):
            try:
                rsp = await self._transfer(HrgpFrame(HrgpKind.GET).encode())
                break
            except (zigpy.exceptions.DeliveryError, TimeoutError) as exc:
                if attempt > self.config.block_transfer.retries:
                    raise
                LOGGER.info("%s: GET %d brought no GET-RESPONSE, asking again: %s", self.node.ieee, attempt, exc)
        if not isinstance(rsp, _S2C.transfer_data_server_to_client.schema):
            raise CheckFailed(f"the CH answered GET with {rsp!r}, not GET-RESPONSE")
        frame = HrgpFrame.decode(rsp.data)
        if frame.kind is not HrgpKind.GET_RESPONSE:
            raise CheckFailed(f"the CH answered GET with a {frame.kind} frame, not GET-RESPONSE")
        return frame

    async def handle_command(
        self, packet: t.ZigbeePacket, header: ZclHeader, command: Any
    ) -> foundation.Status | None:
        """A Tunneling command from the CH (the node's ``handle_cluster_command`` for 0x0704)."""
        if isinstance(command, _S2C.transfer_data_server_to_client.schema):
            return await self._receive(packet, header, command)
        if isinstance(command, _S2C.transfer_data_error_server_to_client.schema):
            self._report(TransferDataRefused("hub", command.tunnel_id, command.status, "unsolicited TransferDataError"))
            return foundation.Status.SUCCESS
        if isinstance(command, _S2C.tunnel_closure_notification.schema):
            if command.tunnel_id == self.tunnel_id:
                self.tunnel_id = None
            return foundation.Status.SUCCESS
        return foundation.Status.UNSUP_CLUSTER_COMMAND

    # -- internals -------------------------------------------------------------------

    async def _receive(self, packet: t.ZigbeePacket, header: ZclHeader, command: Any) -> foundation.Status | None:
        if self.tunnel_id is None or command.tunnel_id != self.tunnel_id:
            return await self._refuse(packet, header, command.tunnel_id, TransferDataStatus.NO_SUCH_TUNNEL,
                                      f"this device's tunnel is {self.tunnel_id}")
        if len(command.data) > self.config.maximum_incoming_transfer_size:
            return await self._refuse(packet, header, command.tunnel_id, TransferDataStatus.DATA_OVERFLOW,
                                      f"{len(command.data)} octets, the device takes "
                                      f"{self.config.maximum_incoming_transfer_size}")
        message = HrgpFrame.decode(command.data).message
        if is_block(message):
            self._blocks.receive(message)
        else:
            self._message_listeners(message)
        return foundation.Status.SUCCESS

    async def _refuse(
        self, packet: t.ZigbeePacket, header: ZclHeader, tunnel_id: int,
        status: TransferDataStatus, detail: str,
    ) -> None:
        self._report(TransferDataRefused("device", tunnel_id, status, detail))
        await self.node.reply(packet, header, _C2S.transfer_data_error_client_to_server.name,
                              tunnel_id=tunnel_id, status=status)

    async def _transfer(self, payload: bytes) -> Any:
        """TransferData up the tunnel; the CH's answer (TransferDataError raises).

        A CH that restarted has forgotten every tunnel and answers NO_SUCH_TUNNEL: the device
        then requests a new tunnel and sends once more, as firmware must to stay reachable
        after a hub reboot, instead of holding its alerts for ever.
        """
        try:
            return await self._transfer_once(payload)
        except TransferDataRefused as refused:
            if refused.status != TransferDataStatus.NO_SUCH_TUNNEL:
                raise
            LOGGER.info("%s: the CH no longer knows tunnel %s; requesting a new one", self.node.ieee, refused.tunnel_id)
            await self.open()
            return await self._transfer_once(payload)

    async def _transfer_once(self, payload: bytes) -> Any:
        if self.tunnel_id is None:
            raise NoTunnel(f"{self.node.ieee} has no tunnel to the CH; open() it first")
        if self.server_maximum_incoming_transfer_size is not None:
            check_fits(len(payload), self.server_maximum_incoming_transfer_size)
        rsp = await self._request(_C2S.transfer_data_client_to_server, tunnel_id=self.tunnel_id, data=t.Bytes(payload))
        if isinstance(rsp, _S2C.transfer_data_error_server_to_client.schema):
            raise TransferDataRefused("hub", rsp.tunnel_id, rsp.status, "answer to TransferData")
        return rsp

    async def _request(self, command: foundation.ZCLCommandDef, **fields: Any) -> Any:
        return await self.node.request(
            Tunneling.cluster_id, command.name, timeout=self.config.response_timeout_s, **fields
        )

    def _report(self, error: HanbenchError) -> None:
        LOGGER.warning("%s tunnel: %s", self.node.ieee, error)
        self._error_listeners(error)
