"""The OTA server an orchestrating Alt HAN bridge runs for the bridges behind it (MP170).

Seed 002 has one bridge "orchestrate the firmware download" to others: Bridge 3 to the sleepy
Bridge 4 under option A, Bridge 1 to every other bridge under option B. The bench's reading:
the orchestrator does to the bridges behind it what the CH does to the HAN, with the same
Zigbee OTA Upgrade cluster and real ZCL frames on the premises' air. It offers each bridge
its component of the bundle it fetched (:mod:`hanbench.gbcs.althan_bundle`), tells an awake
bridge with Image Notify (a sleepy one finds it at its next Query Next Image), serves the
blocks, and answers Upgrade End with an upgrade time of now: the bridges behind it update as
the PPMID variants they are (SR 11.4 combines distribution and activation), so nothing waits
for a CS06. What each bridge said in Upgrade End, or that it said nothing within the wait, is
the outcome the orchestrator reports up in its CS09.

Kept small on purpose: no WAIT_FOR_DATA, no Image Page, blocks of at most ``max_block_size``
bytes from the component's exact bytes. Every frame goes through the orchestrator's own node
(:class:`~hanbench.devices.node.EmulatedNode`), whose handler for the OTA cluster this is, and
is read and written with :mod:`hanbench.radio.zcl_frames`, as the CH's OTA server and every
device's OTA client read and write theirs.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import zigpy.exceptions
import zigpy.types as t
from zigpy.zcl import foundation
from zigpy.zcl.clusters.general import ImageNotifyCommand, Ota

from hanbench.devices.node import EmulatedNode
from hanbench.gbcs.device_types import PpmidVariant
from hanbench.gbcs.gbz import utc_seconds
from hanbench.gbcs.image import UpgradeImage
from hanbench.radio.zcl_frames import (
    ImageBlock,
    ImageBlockResponse,
    ImageNotify,
    QueryNextImage,
    QueryNextImageResponse,
    UpgradeEnd,
    UpgradeEndResponse,
    ZclHeader,
    block_frame,
)

LOGGER = logging.getLogger(__name__)
Status = foundation.Status
MAX_BLOCK_SIZE = 50


class ChildResult(enum.Enum):
    """How a bridge behind the orchestrator took its component."""

    UPDATED = "updated"                      # Upgrade End SUCCESS: it runs the component now
    REFUSED = "refused"                      # Upgrade End with another status: its own check said no
    HARDWARE_MISMATCH = "hardware mismatch"  # its hardware version is outside the component's range
    NO_ANSWER = "no answer"                  # nothing within the orchestrator's wait


@dataclass(frozen=True)
class ChildOutcome:
    """What became of one bridge's component; ``detail`` says why in words."""

    bridge: PpmidVariant
    result: ChildResult
    detail: str = ""

    @property
    def updated(self) -> bool:
        return self.result is ChildResult.UPDATED


@dataclass
class _Offer:
    bridge: PpmidVariant
    image: UpgradeImage
    data: bytes
    done: asyncio.Future[ChildOutcome]


class BridgeOtaServer:
    """The orchestrator's OTA server for ``children`` (NWK address -> bridge type) on ``node``.

    Register :meth:`handle` as the node's handler for the OTA cluster: it takes the requests
    of the bridges behind and passes everything else (the CH's frames to the orchestrator's
    own OTA client) on.
    """

    def __init__(self, node: EmulatedNode, children: Mapping[int, PpmidVariant], now: Callable[[], datetime], *,
                 max_block_size: int = MAX_BLOCK_SIZE) -> None:
        self.node = node
        self.children = dict(children)
        self.now = now
        self.max_block_size = max_block_size
        self._offers: dict[PpmidVariant, _Offer] = {}

    def nwk_of(self, bridge: PpmidVariant) -> int:
        for nwk, variant in self.children.items():
            if variant is bridge:
                return nwk
        raise KeyError(bridge)

    async def offer(self, bridge: PpmidVariant, component: bytes, image: UpgradeImage, *,
                    notify: bool) -> asyncio.Future[ChildOutcome]:
        """Serve ``component`` to ``bridge``; the future completes with the bridge's outcome.

        ``notify`` sends it Image Notify (an awake bridge); a sleepy one asks by itself.
        """
        done: asyncio.Future[ChildOutcome] = asyncio.get_running_loop().create_future()
        self._offers[bridge] = _Offer(bridge, image, component, done)
        if notify:
            header = image.header
            notice = ImageNotify(ImageNotifyCommand.PayloadType.QueryJitter_ManufacturerCode_ImageType_NewFileVersion,
                                 100, header.manufacturer_code, header.image_type, header.file_version)
            try:
                await self.node.tell(self.nwk_of(bridge), Ota.cluster_id, notice.frame(self.node.next_tsn()))
            except zigpy.exceptions.DeliveryError as exc:
                LOGGER.info("Image Notify to %s not delivered; it may still ask: %s", bridge, exc)
        return done

    def withdraw(self, bridge: PpmidVariant, outcome: ChildOutcome) -> None:
        """Stop serving ``bridge`` and settle its offer with ``outcome`` if it is still open."""
        offer = self._offers.pop(bridge, None)
        if offer is not None and not offer.done.done():
            offer.done.set_result(outcome)

    async def handle(self, packet: t.ZigbeePacket, header: ZclHeader, command: Any) -> foundation.Status | None:
        """The node's OTA handler: a request from a bridge behind, or UNSUP to pass the frame on."""
        bridge = self.children.get(int(packet.src.address)) if packet.src is not None else None
        if bridge is None or header.server_to_client:
            return Status.UNSUP_CLUSTER_COMMAND
        offer = self._offers.get(bridge)
        if isinstance(command, QueryNextImage):
            await self._on_query(packet, header, command, offer)
        elif isinstance(command, ImageBlock):
            await self._on_block(packet, header, command, offer)
        elif isinstance(command, UpgradeEnd):
            return await self._on_upgrade_end(packet, header, command, offer)
        else:
            return Status.UNSUP_CLUSTER_COMMAND
        return None

    async def _on_query(self, packet: t.ZigbeePacket, header: ZclHeader, cmd: QueryNextImage,
                        offer: _Offer | None) -> None:
        image = None if offer is None else offer.image.header
        if offer is None or image is None or not image.is_for(cmd.manufacturer_code, cmd.image_type) \
                or not image.is_newer_than(cmd.current_file_version):
            await self.node.reply_frame(packet, QueryNextImageResponse(Status.NO_IMAGE_AVAILABLE).frame(header.tsn))
            return
        if cmd.hardware_version is not None and not image.accepts_hardware_version(cmd.hardware_version):
            self.withdraw(offer.bridge, ChildOutcome(offer.bridge, ChildResult.HARDWARE_MISMATCH,
                                                     f"hardware version 0x{cmd.hardware_version:04X} is outside "
                                                     "the component's range"))
            await self.node.reply_frame(packet, QueryNextImageResponse(Status.NO_IMAGE_AVAILABLE).frame(header.tsn))
            return
        answer = QueryNextImageResponse(Status.SUCCESS, image.manufacturer_code, image.image_type,
                                        image.file_version, len(offer.data))
        await self.node.reply_frame(packet, answer.frame(header.tsn))

    async def _on_block(self, packet: t.ZigbeePacket, header: ZclHeader, cmd: ImageBlock,
                        offer: _Offer | None) -> None:
        if offer is None or cmd.file_version != offer.image.header.file_version or cmd.file_offset >= len(offer.data):
            await self.node.reply_frame(packet, ImageBlockResponse(Status.ABORT).frame(header.tsn))
            return
        chunk = offer.data[cmd.file_offset:cmd.file_offset + min(cmd.maximum_data_size, self.max_block_size)]
        await self.node.reply_frame(packet, block_frame(header.tsn, cmd.manufacturer_code, cmd.image_type,
                                                        cmd.file_version, cmd.file_offset, chunk))

    async def _on_upgrade_end(self, packet: t.ZigbeePacket, header: ZclHeader, cmd: UpgradeEnd,
                              offer: _Offer | None) -> foundation.Status | None:
        if offer is None or cmd.file_version != offer.image.header.file_version:
            return Status.SUCCESS  # not an image served here: acknowledge and move on
        if cmd.status != Status.SUCCESS:
            self.withdraw(offer.bridge, ChildOutcome(offer.bridge, ChildResult.REFUSED,
                                                     f"Upgrade End {Status(cmd.status).name}"))
            return Status.SUCCESS
        now = utc_seconds(self.now())
        answer = UpgradeEndResponse(cmd.manufacturer_code, cmd.image_type, cmd.file_version, now, now)
        await self.node.reply_frame(packet, answer.frame(header.tsn))
        self.withdraw(offer.bridge, ChildOutcome(offer.bridge, ChildResult.UPDATED))
        return None
