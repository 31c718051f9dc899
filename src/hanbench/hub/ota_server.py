"""The Comms Hub's Zigbee OTA Upgrade server, with the GBCS policy zigpy does not have.

zigpy's own server (``Device.update_firmware`` and ``zigpy.ota.manager.OTAManager``) is not
what a GBCS Comms Hub does: it answers Upgrade End with ``upgrade_time = 0`` (activate now),
where GBCS 11.2.1 wants ``0xFFFFFFFF`` (wait for the upgrade command: activation is CS06);
it answers every device-initiated Query Next Image with NO_IMAGE_AVAILABLE; it re-encodes the
image instead of serving the stored bytes, caps blocks at 50 bytes, and knows neither
WAIT_FOR_DATA nor a minimum block period. This server replaces it on the CH's coordinator,
using only zigpy APIs, so it runs on the bench's ``VirtualRadioApp`` and on bellows alike.

How it hooks into zigpy 2.4 (the first tests in ``tests/unit/hub/test_ota_server.py``,
``tests/unit/hub/test_cluster_hook.py`` and ``tests/unit/radio/test_zcl_frames.py`` fail if
zigpy changes any of this):

1. For every device the application knows or learns of, it routes ``query_next_image``,
   ``image_block``, ``image_page`` and ``upgrade_end`` to itself through
   :mod:`hanbench.hub.cluster_hook`: the device's :class:`~hanbench.radio.se_profile.
   SmartEnergyDevice` reads them from the raw frame (:mod:`hanbench.radio.zcl_frames`) where
   zigpy would parse them and run its request listeners (the mechanism ``OTAManager`` uses),
   and each request is answered in a task of the application, as a listener is, or at once
   where the radio allows, with a task only if the answer has to wait
   (:func:`~hanbench.radio.se_profile.start_handler`).
2. It claims each device with ``device.ota_in_progress = True``, which is what makes zigpy's
   ``Ota.handle_cluster_request`` stand aside for any OTA frame left to zigpy (otherwise it
   would answer NO_IMAGE_AVAILABLE to queries and ABORT to block requests). The flag also
   makes ``Device.update_firmware`` refuse (it returns ``None``), so nothing can push an image
   with ``upgrade_time = 0`` behind the CH's back; and zigpy skips re-interviews of such devices.
3. Replies are the frames zigpy's ``Cluster.reply`` writes on the device's OTA client cluster
   (built by :mod:`hanbench.radio.zcl_frames`, an Image Block Response straight from the
   stored bytes), sent from the endpoint the request came from, with the request's TSN, as
   ``OTAManager`` sends them with ``Endpoint.reply``: the same packet, sent by
   :meth:`~hanbench.radio.se_profile.SmartEnergyDevice.send_reply`.

Protocol decisions, each a knob in :class:`OtaServerConfig` with the spec default:

* Query Next Image: SUCCESS only for the image the store holds for that device under the
  asked manufacturer code and image type, strictly newer than the device's current file
  version, and within the header's hardware range. The CH offers only newer images (the
  default query policy of Silicon Labs' OTA server, "Upgrade if server has newer",
  ``ota-server-policy.c``; zigpy's server does the same): an image a device already runs,
  or one older than what it runs, is answered NO_IMAGE_AVAILABLE and discarded for that
  device, CCS08 result 1 "Image Discarded", since the CH will never offer it. A hardware
  mismatch is answered NO_IMAGE_AVAILABLE and reported once, CCS08 result 2. Either way
  the device then no longer waits for that image. A query without the optional hardware
  version cannot be checked and is served.
* Image Block: ``min(maximum_data_size, max_block_size)`` bytes of the stored file, served
  from the original bytes. A request earlier than ``minimum_block_period_ms`` after the
  previous request served (the period is the client's, between its requests), or any
  request while :attr:`OtaServer.busy`, gets WAIT_FOR_DATA with
  current time, request time and the minimum block period (the only ZCL response that can
  carry the period). Unknown image or device: ABORT. Offset past the end: MALFORMED_COMMAND.
* Image Page: ``page_size`` bytes as successive unsolicited Image Block Responses, spaced by
  the larger of the device's ``response_spacing`` and the minimum block period. A page
  request is refused like a block request (ABORT, MALFORMED_COMMAND, WAIT_FOR_DATA). A block
  that does not get through ends the page; the device asks again from the gap.
* Upgrade End with SUCCESS: Upgrade End Response with ``upgrade_time`` (0xFFFFFFFF); CCS08
  result 0. Any other status (INVALID_IMAGE after a failed signature check, ABORT,
  REQUIRE_MORE_IMAGE): ZCL answers with a Default Response (SUCCESS), and the transfer ends
  with CCS08 result 3 carrying the device's status. Either way the device has decided and no
  longer waits for the image.
* No request for ``stall_timeout_s`` (``upgrade_end_timeout_s`` once the last block is out,
  since a device checks the signature before it sends Upgrade End): the transfer is
  interrupted (:class:`~hanbench.hub.transfer.TransferInterrupted`, no CCS08). The image
  stays waiting, and a device that comes back resumes from its own offset, as a new
  transfer: a block request names its offset, so the server needs nothing of the old one.
* A device that has no transfer of an image waiting for it under way, for
  ``target_wait_s`` (it never started one: its link is down, it does not hear Image Notify;
  or it went quiet in the middle), is given up on: the image no longer waits for it and the
  CH raises CCS08 result 3 "File Transfer Failure", once. So every target ends in a CCS08,
  whatever happens on the air.

The server is also a test instrument. :attr:`OtaServer.faults`
(:mod:`hanbench.hub.ota_faults`) holds the faults a test sets, consulted where the server
decides how to answer a block or page request, what a block it sends looks like, the block
period and size it imposes and the upgrade time it gives; with none set, one boolean is all it
costs. :meth:`OtaServer.watch` hands every request and answer to a reader
(:mod:`hanbench.hub.ota_log`), and :meth:`OtaServer.send_image_notify` sends any Image Notify
variant, unicast or broadcast.

Time on the wire (``current_time`` and ``request_time``, ZCL UTCTime: seconds since
2000-01-01 UTC) comes from the bench clock; pacing and timeouts from the event loop.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import math
from collections.abc import Callable, Coroutine, Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, NamedTuple

import zigpy.exceptions
import zigpy.types as t
from zigpy.application import ControllerApplication
from zigpy.device import Device
from zigpy.endpoint import Endpoint
from zigpy.zcl import ClusterType, foundation
from zigpy.zcl.clusters.general import Ota

from hanbench.clock import BenchClock
from hanbench.errors import BadInput
from hanbench.gbcs.device_types import DeviceType
from hanbench.gbcs.entity import EntityId
from hanbench.gbcs.gbz import ZIGBEE_EPOCH
from hanbench.gbcs.image import UpgradeImage
from hanbench.hub.cluster_hook import DeviceHooks, request_route
from hanbench.hub.image_store import ImageKey, ImageStore, StoredImage
from hanbench.hub.ota_faults import MAX_BLOCK_SIZE_LIMIT, Answer, Decision, ImageNotifyVariant, OtaFaults
from hanbench.hub.ota_log import Answered, Asked, OtaCommand, Record
from hanbench.hub.transfer import (
    Transfer,
    TransferListener,
    TransferResult,
    unstarted_outcome,
)
from hanbench.listeners import Listeners
from hanbench.radio.addresses import entity_of, eui64_of
from hanbench.radio.se_profile import SE_PROFILE_ID, RequestRoute, SmartEnergyDevice, start_handler
from hanbench.radio.zcl_frames import (
    DefaultResponse,
    ImageBlock,
    ImageBlockResponse,
    ImageNotify,
    ImagePage,
    OtaRequest,
    QueryNextImage,
    QueryNextImageResponse,
    UpgradeEnd,
    UpgradeEndResponse,
    ZclHeader,
    block_frame,
    read_ota_request,
)
from hanbench.timing import OTA_MAX_BLOCK_SIZE, OTA_MINIMUM_BLOCK_PERIOD_MS, OTA_STALL_TIMEOUT_S, OTA_TARGET_WAIT_S

LOGGER = logging.getLogger(__name__)

#: Upgrade End Response ``upgrade_time``: "wait for upgrade command" (activation is CS06).
WAIT_FOR_UPGRADE_COMMAND = 0xFFFFFFFF

Status = foundation.Status


@dataclass(frozen=True)
class OtaServerConfig:
    """The CH OTA server's knobs; defaults are the spec's or common practice's (the three a
    bench file sets come from :mod:`hanbench.timing`, with their sources).

    ``max_block_size``: cap on image data per block (at most 63, SiLabs' cap without APS
    encryption). ``minimum_block_period_ms``: the least time between two blocks to one
    device (ZCL MinimumBlockPeriod, ms; 0 = no pacing). ``stall_timeout_s``: how long a
    transfer may go without a request before it counts as interrupted.
    ``upgrade_end_timeout_s``: the same after the last block (zigpy: 60 s).
    ``target_wait_s``: how long the CH holds an image for a device with no transfer of it
    under way before it gives up on the device (CCS08 result 3). ``busy_backoff_s``: how long WAIT_FOR_DATA
    tells a device to wait while the server is busy. ``progress_step_percent``: progress
    reports per transfer are throttled to one per this much of the image.
    ``query_jitter``: Image Notify's QueryJitter (100: every device queries).
    ``upgrade_time``: what Upgrade End Response says; GBCS requires 0xFFFFFFFF, a fault
    test may set 0 to check that a device still waits for CS06.
    """

    max_block_size: int = OTA_MAX_BLOCK_SIZE
    minimum_block_period_ms: int = OTA_MINIMUM_BLOCK_PERIOD_MS
    stall_timeout_s: float = OTA_STALL_TIMEOUT_S
    upgrade_end_timeout_s: float = 60.0
    target_wait_s: float = OTA_TARGET_WAIT_S
    busy_backoff_s: float = 1.0
    progress_step_percent: float = 10.0
    query_jitter: int = 100
    upgrade_time: int = WAIT_FOR_UPGRADE_COMMAND

    def __post_init__(self) -> None:
        if not 1 <= self.max_block_size <= MAX_BLOCK_SIZE_LIMIT:
            raise BadInput(f"OTA max block size must be 1..{MAX_BLOCK_SIZE_LIMIT} bytes, got {self.max_block_size}")
        if not 0 <= self.minimum_block_period_ms <= 0xFFFF:
            raise BadInput(f"minimum block period must be 0..65535 ms, got {self.minimum_block_period_ms}")
        for name in ("stall_timeout_s", "upgrade_end_timeout_s", "target_wait_s", "busy_backoff_s",
                     "progress_step_percent"):
            if getattr(self, name) <= 0:
                raise BadInput(f"OTA server {name} must be > 0, got {getattr(self, name)}")
        if not 0 <= self.query_jitter <= 100:
            raise BadInput(f"query jitter must be 0..100, got {self.query_jitter}")
        if not 0 <= self.upgrade_time <= 0xFFFFFFFF:
            raise BadInput(f"upgrade time must fit in 32 bits, got {self.upgrade_time}")


class OtaServer:
    """The CH's OTA server on one zigpy application; see the module docstring."""

    def __init__(
        self,
        store: ImageStore,
        clock: BenchClock,
        config: OtaServerConfig | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.config = config if config is not None else OtaServerConfig()
        #: Fault injection: while True every block or page request gets WAIT_FOR_DATA.
        self.busy = False
        self._hooks = DeviceHooks("OTA server", request_route(Ota.cluster_id, self._route), claim=_claim_ota)
        self._handlers: dict[type[OtaRequest], Callable[[OtaPeer, int, Any], Coroutine[Any, Any, None]]] = {
            QueryNextImage: self._on_query,
            ImageBlock: self._on_block,
            ImagePage: self._on_page,
            UpgradeEnd: self._on_upgrade_end,
        }
        self._transfers: dict[EntityId, Transfer] = {}
        #: Targets with an image waiting and no transfer under way: when the CH gives up on each.
        self._waits: dict[EntityId, asyncio.TimerHandle] = {}
        #: A target's last interrupted transfer, whose counts its CCS08 carries if the CH gives up.
        self._interrupted: dict[EntityId, Transfer] = {}
        self._listeners: Listeners[TransferListener] = Listeners()
        #: The faults a test sets (:mod:`hanbench.hub.ota_faults`); none by default.
        self.faults = OtaFaults()
        self._watchers: Listeners[Callable[[Record], None]] = Listeners()
        self._quiet_until = -math.inf  # after a restart fault: nothing is answered before this loop time

    def on_transfer(self, listener: TransferListener) -> Callable[[], None]:
        """Call ``listener`` as each transfer starts, progresses and finishes (every outcome
        that needs a CCS08, started or not); returns a remover."""
        return self._listeners.add(listener)

    def watch(self, reader: Callable[[Record], None]) -> Callable[[], None]:
        """Hand ``reader`` every request a device makes and every answer the server gives
        (:mod:`hanbench.hub.ota_log`); returns a remover."""
        return self._watchers.add(reader)

    # -- installation ------------------------------------------------------------------

    def install(self, app: ControllerApplication) -> None:
        """Serve OTA for every device of ``app``, now and as they join."""
        self._hooks.install(app)

    def uninstall(self) -> None:
        """Stop serving: release every device to zigpy and end running transfers as failed."""
        if not self._hooks.installed:
            return
        for entity in list(self._transfers):
            self._finish(entity, TransferResult.FILE_TRANSFER_FAILURE, "the CH's OTA server was stopped")
        self._stop_waits()
        self._hooks.uninstall()

    def power_off(self) -> None:
        """The CH goes down: every transfer under way is interrupted (the devices resume from
        their own offsets when it is back) and no target is waited for until :meth:`power_on`."""
        for transfer in list(self._transfers.values()):
            self._interrupt(transfer, "the CH restarted")
        self._stop_waits()

    def power_on(self) -> None:
        """The CH is back: every target its store still holds an image for is waited for
        afresh, ``target_wait_s`` from now."""
        for stored in self.store.images:
            for entity in stored.pending:
                self._wait_for(entity)

    def _stop_waits(self) -> None:
        for handle in self._waits.values():
            handle.cancel()
        self._waits.clear()

    # -- what the CH composition calls ----------------------------------------------------

    def offer(
        self, image: UpgradeImage, targets: Iterable[EntityId | t.EUI64 | str], *,
        device_type: DeviceType | None = None, device_log: Mapping[EntityId, DeviceType] | None = None,
    ) -> StoredImage | None:
        """Store an image for ``targets`` and report what the store discarded (CCS08 code 1).

        ``device_log`` is the CH's record of its devices' types: a target it names as another
        type than the image's would never ask for the image (its Query Next Image names its
        own manufacturer code and image type), so the image is discarded for it at once, CCS08
        code 1. Returns the stored image, or ``None`` if the store discarded the newcomer
        itself or no target can take it. A transfer of an image that was overwritten is
        stopped at once.
        """
        kind = self.store.kind_of(image, device_type)
        now = self._loop_now()
        takers = []
        for device in (entity_of(d) for d in targets):
            logged = (device_log or {}).get(device, kind)
            if logged is kind:
                takers.append(device)
                continue
            header = image.header
            self._listeners(unstarted_outcome(
                device, image, TransferResult.IMAGE_DISCARDED,
                f"a {kind.value} image (manufacturer code 0x{header.manufacturer_code:04X}, image type "
                f"0x{header.image_type:04X}) for a {logged.value}, which never asks for it", now))
        if not takers:
            return None
        result = self.store.put(image, takers, device_type=device_type)
        for discard in result.discarded:
            for device in sorted(discard.targets):
                transfer = self._transfers.get(device)
                if transfer is not None and transfer.stored is discard.image:
                    self._finish(device, TransferResult.IMAGE_DISCARDED, discard.reason)
                else:
                    self._listeners(
                        unstarted_outcome(device, discard.image, TransferResult.IMAGE_DISCARDED, discard.reason, now)
                    )
                self._forget_if_settled(device)
        if result.stored is not None:
            for device in result.stored.targets:
                if device not in self._transfers:
                    self._wait_for(device)
        return result.stored

    def image_waiting(self, device: EntityId | t.EUI64 | str) -> StoredImage | None:
        """The image ``device`` has yet to take, if any (a sleepy device's mirror flag)."""
        return self.store.waiting_for(entity_of(device))

    @property
    def transfers(self) -> Mapping[EntityId, Transfer]:
        """Transfers under way, by device."""
        return MappingProxyType(self._transfers)

    async def notify(self, device: EntityId | t.EUI64 | str) -> None:
        """Send Image Notify (unicast) for the image waiting for an awake ``device``.

        Raises :class:`BadInput` if nothing waits for the device or it is not on the network,
        and zigpy's ``DeliveryError`` if the frame does not get through (device asleep).
        """
        entity = entity_of(device)
        stored = self.image_waiting(entity)
        if stored is None:
            raise BadInput(f"no image is waiting for {entity}; offer one before notifying")
        header = stored.image.header
        await self.send_image_notify(entity, ImageNotifyVariant(
            3, self.config.query_jitter, header.manufacturer_code, header.image_type, header.file_version))

    async def send_image_notify(self, device: EntityId | t.EUI64 | str | None, variant: ImageNotifyVariant) -> None:
        """Send ``variant`` of Image Notify to ``device``, or to every device that listens when
        ``variant.broadcast``; ``device`` may then be ``None``. Fields the payload type does not
        carry are left out. Raises :class:`BadInput` for a unicast to a device not on the
        network or a payload type whose fields are missing, zigpy's ``DeliveryError`` if a
        unicast does not get through.
        """
        fields = {"manufacturer_code": variant.manufacturer_code, "image_type": variant.image_type,
                  "new_file_version": variant.new_file_version}
        carried = dict(list(fields.items())[:variant.payload_type])
        if None in carried.values():
            raise BadInput(f"Image Notify payload type {variant.payload_type} carries "
                           f"{', '.join(carried)}: give each")
        notify = ImageNotify(variant.payload_type, variant.query_jitter, **carried)
        if not variant.broadcast:
            if device is None:
                raise BadInput("a unicast Image Notify needs a device")
            peer = self._peer(entity_of(device))
            await peer.reply(notify.frame(peer.next_tsn()))
            return
        app = self._hooks.app
        tsn = app.get_sequence()
        await app.broadcast(SE_PROFILE_ID, Ota.cluster_id, 1, 0xFF, 0, 0x1E, tsn, notify.frame(tsn),
                            broadcast_address=t.BroadcastAddress.RX_ON_WHEN_IDLE)

    async def send_upgrade_command(self, device: EntityId | t.EUI64 | str, image: ImageKey, delay_s: int) -> bool:
        """Tell ``device`` to switch to ``image`` in ``delay_s`` seconds: an unsolicited Upgrade End Response.

        For a device the CH activates itself (an IHD speaks no GBCS, so SECMP0007 has the CH
        activate it). Returns False if the frame did not get through; raises
        :class:`BadInput` if the device is not on the network.
        """
        peer = self._peer(entity_of(device))
        now = self._utc_seconds(self.clock.now())
        command = UpgradeEndResponse(image.manufacturer_code, image.image_type, image.file_version, now, now + delay_s)
        return await peer.send(command.frame(peer.next_tsn()))

    async def read_client_attributes(self, device: EntityId | t.EUI64 | str, names: Iterable[str]) -> dict[str, Any]:
        """Read OTA client attributes of ``device`` (ImageUpgradeStatus, FileOffset...) over ZCL, as
        a server may; an attribute the device does not support is missing from the answer.
        :class:`BadInput` if the device is not on the network, zigpy's ``DeliveryError`` or
        :class:`TimeoutError` if it does not answer."""
        peer = self._peer(entity_of(device))
        found, _unsupported = await peer.endpoint.out_clusters[Ota.cluster_id].read_attributes(
            list(names), allow_cache=False)
        return dict(found)

    # -- request handlers ---------------------------------------------------------------------

    def _route(self, device: Device) -> RequestRoute[OtaRequest]:
        """How ``device``'s OTA requests reach the server: read from the raw frame, each
        answered as zigpy runs a request listener, at once where the radio allows
        (:func:`~hanbench.radio.se_profile.start_handler`)."""
        entity = entity_of(device.ieee)
        app = self._hooks.app
        peers: dict[int, OtaPeer] = {}  # by the endpoint the device sends from

        def handle(endpoint: Endpoint, header: ZclHeader, request: OtaRequest) -> None:
            peer = peers.get(endpoint.endpoint_id)
            if peer is None or peer.endpoint is not endpoint:
                peer = peers[endpoint.endpoint_id] = OtaPeer(entity, endpoint)
            start_handler(app, self._handlers[type(request)](peer, header.tsn, request))

        return RequestRoute(read_ota_request, handle)

    async def _on_query(self, peer: OtaPeer, tsn: int, cmd: QueryNextImage) -> None:
        entity = peer.entity
        hw = cmd.hardware_version
        if self._watchers:
            self._watchers(Asked(self._loop_now(), entity, OtaCommand.QUERY_NEXT_IMAGE, cmd.current_file_version,
                                 hardware_version=hw))
        if self._loop_now() < self._quiet_until:
            return
        stored = self.store.lookup(entity, cmd.manufacturer_code, cmd.image_type)
        if stored is None:
            await self._answer_query(peer, tsn, None)
            return
        header = stored.image.header
        refusal: tuple[TransferResult, str] | None = None
        if not header.is_newer_than(cmd.current_file_version):
            refusal = (TransferResult.IMAGE_DISCARDED,
                       f"the device runs file version 0x{cmd.current_file_version:08X}; the CH offers only a newer "
                       f"image, and 0x{header.file_version:08X} is not")
        elif hw is not None and not header.accepts_hardware_version(hw):
            refusal = (TransferResult.HARDWARE_VERSION_MISMATCH,
                       f"hardware version 0x{hw:04X} is outside the image's range "
                       f"0x{header.hw_min:04X}..0x{header.hw_max:04X}")
        if refusal is not None:
            self._settle(stored, entity)
            self._listeners(unstarted_outcome(entity, stored, *refusal, self._loop_now()))
            await self._answer_query(peer, tsn, None)
            return
        self._transfer(entity, stored)
        await self._answer_query(peer, tsn, stored)

    async def _answer_query(self, peer: OtaPeer, tsn: int, stored: StoredImage | None) -> None:
        """Query Next Image Response: SUCCESS offering ``stored``, or NO_IMAGE_AVAILABLE."""
        if stored is None:
            sent = await peer.send(QueryNextImageResponse(Status.NO_IMAGE_AVAILABLE).frame(tsn))
        else:
            key = stored.key
            sent = await peer.send(QueryNextImageResponse(
                Status.SUCCESS, key.manufacturer_code, key.image_type, key.file_version, stored.size).frame(tsn))
        if self._watchers:
            self._watchers(Answered(self._loop_now(), peer.entity, OtaCommand.QUERY_NEXT_IMAGE,
                                    Status.NO_IMAGE_AVAILABLE if stored is None else Status.SUCCESS, sent=sent))

    async def _on_block(self, peer: OtaPeer, tsn: int, cmd: ImageBlock) -> None:
        admitted = self._admit(peer.entity, cmd)
        if isinstance(admitted, Transfer):
            await self._send_block(peer, admitted, cmd.file_offset, cmd.maximum_data_size, tsn=tsn)
        else:
            await self._refuse(peer, tsn, admitted)

    async def _on_page(self, peer: OtaPeer, tsn: int, cmd: ImagePage) -> None:
        admitted = self._admit(peer.entity, cmd)
        if not isinstance(admitted, Transfer):
            await self._refuse(peer, tsn, admitted)
            return
        transfer = admitted
        transfer.stream_page(asyncio.get_running_loop().create_task(
            self._stream_page(peer, transfer, cmd), name=f"ota-page-{transfer.device}"
        ))

    async def _stream_page(self, peer: OtaPeer, transfer: Transfer, cmd: ImagePage) -> None:
        spacing_s = max(cmd.response_spacing, self._block_period_ms()) / 1000
        end = min(cmd.file_offset + cmd.page_size, transfer.stored.size)
        offset = cmd.file_offset
        while offset < end and self._transfers.get(transfer.device) is transfer:
            sent = await self._send_block(peer, transfer, offset, min(cmd.maximum_data_size, end - offset))
            if sent is None:
                return
            offset += sent
            if offset < end:
                await asyncio.sleep(spacing_s)

    async def _on_upgrade_end(self, peer: OtaPeer, tsn: int, cmd: UpgradeEnd) -> None:
        entity = peer.entity
        if self._watchers:
            self._watchers(Asked(self._loop_now(), entity, OtaCommand.UPGRADE_END, cmd.file_version, status=cmd.status))
        if self._loop_now() < self._quiet_until:
            return
        transfer = self._transfers.get(entity)
        if transfer is None or transfer.stored.key.file_version != cmd.file_version:
            stored = self.store.lookup(entity, cmd.manufacturer_code, cmd.image_type)
            if stored is None or stored.key.file_version != cmd.file_version:
                # Not an image the CH is serving to this device: acknowledge and move on.
                await peer.send(DefaultResponse(_UPGRADE_END, Status.SUCCESS).frame(tsn, server_to_client=True))
                return
            transfer = self._transfer(entity, stored)
        else:
            self._arm_stall_timer(transfer)  # the device spoke: its answer may take a while to reach it
        self._settle(transfer.stored, entity)
        if cmd.status == Status.SUCCESS:
            upgrade_time = self.faults.upgrade_time(self.config.upgrade_time) if self.faults.active \
                else self.config.upgrade_time
            key = transfer.stored.key
            sent = await peer.send(UpgradeEndResponse(
                key.manufacturer_code, key.image_type, key.file_version, self._utc_seconds(self.clock.now()),
                upgrade_time).frame(tsn))
            if self._watchers:
                self._watchers(Answered(self._loop_now(), entity, OtaCommand.UPGRADE_END, Status.SUCCESS,
                                        upgrade_time=upgrade_time, sent=sent))
            if self._transfers.get(entity) is not transfer:
                return  # it ended while the answer was on the air (stopped, or overwritten)
            if sent:
                self._finish(entity, TransferResult.SUCCESS, "the device took the image",
                             device_status=cmd.status, upgrade_time=upgrade_time)
            else:
                self._finish(entity, TransferResult.FILE_TRANSFER_FAILURE,
                             "the Upgrade End Response did not reach the device", device_status=cmd.status)
            return
        await peer.send(DefaultResponse(_UPGRADE_END, Status.SUCCESS).frame(tsn, server_to_client=True))
        if self._transfers.get(entity) is transfer:
            self._finish(entity, TransferResult.FILE_TRANSFER_FAILURE,
                         f"the device ended the upgrade with {cmd.status.name}", device_status=cmd.status)

    # -- transfer bookkeeping -------------------------------------------------------------------

    def _admit(self, entity: EntityId, cmd: ImageBlock | ImagePage) -> Transfer | Refusal:
        """The transfer a block or page request is served from now, or the :class:`Refusal` it
        gets instead: ABORT (no such image for this device), MALFORMED_COMMAND (offset past
        the end, zero data size), WAIT_FOR_DATA (too early for the block period, or the
        server is busy), a fault's answer, or silence (the CH is restarting). Decided at once,
        so a request that is served costs no coroutine of its own.
        """
        now = self._loop_now()
        if self._watchers:
            self._watchers(_asked_block(now, entity, cmd))
        if now < self._quiet_until:
            return _SILENCE
        transfer = self._transfers.get(entity)
        if transfer is None or transfer.stored.key.file_version != cmd.file_version:
            stored = self.store.lookup(entity, cmd.manufacturer_code, cmd.image_type)
            if stored is None or stored.key.file_version != cmd.file_version:
                return _ABORT
            transfer = self._transfer(entity, stored)
        self._arm_stall_timer(transfer)
        if cmd.file_offset >= transfer.stored.size or cmd.maximum_data_size == 0:
            return _MALFORMED
        if self.faults.active:
            decision = self.faults.answer(cmd.file_offset, now)
            if decision is not None:
                return self._faulty_answer(transfer, decision, now)
        wait_until = self._throttled_until(transfer, now)
        if wait_until is not None:
            transfer.waits += 1
            return Refusal(Status.WAIT_FOR_DATA, wait_until)
        transfer.last_served_request_at = now
        return transfer

    async def _refuse(self, peer: OtaPeer, tsn: int, refusal: Refusal) -> None:
        """Answer a block or page request with ``refusal`` instead of a block (nothing for silence)."""
        status, until = refusal
        if status is None:
            return
        answer = ImageBlockResponse(status) if until is None else self._wait_for_data(until)
        sent = await peer.send(answer.frame(tsn))
        if self._watchers:
            wait_s = None if until is None else float(answer.request_time - answer.current_time)
            self._watchers(Answered(self._loop_now(), peer.entity, OtaCommand.IMAGE_BLOCK, status, wait_s=wait_s,
                                    sent=sent))

    def _faulty_answer(self, transfer: Transfer, decision: Decision, now: float) -> Refusal:
        """A fault's answer to a block or page request (:mod:`hanbench.hub.ota_faults`); a
        restart happens here, as the request comes in."""
        match decision.answer:
            case Answer.WAIT_FOR_DATA:
                transfer.waits += 1
                return Refusal(Status.WAIT_FOR_DATA, now + decision.seconds)
            case Answer.ABORT:
                return _ABORT
            case Answer.RESTART:
                self._restart(decision.seconds)
                return _SILENCE
            case Answer.SILENT:
                return _SILENCE

    def _restart(self, outage_s: float) -> None:
        """A restart fault: every transfer forgotten without an outcome (a CH that restarts
        remembers its stored images, not its transfers), and nothing answered for ``outage_s``."""
        for transfer in self._transfers.values():
            transfer.stop()
        self._transfers.clear()
        self._quiet_until = self._loop_now() + outage_s

    def _transfer(self, entity: EntityId, stored: StoredImage) -> Transfer:
        """The transfer of ``stored`` to ``entity``: the running one, or a new one."""
        transfer = self._transfers.get(entity)
        if transfer is not None and transfer.stored is stored:
            self._arm_stall_timer(transfer)
            return transfer
        if transfer is not None:
            self._finish(entity, TransferResult.FILE_TRANSFER_FAILURE,
                         f"the device moved on to image {stored.key}")
        self._stop_wait(entity)
        transfer = Transfer(entity, stored, started_at=self._loop_now())
        self._transfers[entity] = transfer
        self._listeners(transfer.started())
        self._arm_stall_timer(transfer)
        return transfer

    def _throttled_until(self, transfer: Transfer, now: float) -> float | None:
        """Loop time before which a request of ``transfer`` arriving at ``now`` may not be
        served, or ``None``."""
        if self.busy:
            return now + self.config.busy_backoff_s
        period = self._block_period_ms() / 1000
        last = transfer.last_served_request_at
        if period and last is not None and now < last + period:
            return last + period
        return None

    def _wait_for_data(self, until: float) -> ImageBlockResponse:
        """WAIT_FOR_DATA telling a device to come back at loop time ``until``."""
        current_time = self._utc_seconds(self.clock.now())
        # UTCTime has whole seconds: round the wait up, so a device that honours it is never early.
        return ImageBlockResponse(
            Status.WAIT_FOR_DATA,
            current_time=current_time,
            request_time=current_time + math.ceil(until - self._loop_now()),
            minimum_block_period=self._block_period_ms(),
        )

    def _block_period_ms(self) -> int:
        """The MinimumBlockPeriod imposed now: the configured one, or a fault's."""
        period = self.config.minimum_block_period_ms
        return self.faults.block_period_ms(period) if self.faults.active else period

    async def _send_block(
        self, peer: OtaPeer, transfer: Transfer, offset: int, maximum_data_size: int, *, tsn: int | None = None
    ) -> int | None:
        """Send one block at ``offset``; its length, or ``None`` if it did not get through."""
        size = min(maximum_data_size, self.config.max_block_size)
        copies = 1
        if self.faults.active:
            size = self.faults.block_size(size)
            shaped = self.faults.shape(offset, transfer.stored.data[offset:offset + size], transfer.stored.data)
            offset, data, copies = shaped.offset, shaped.data, shaped.copies
            if shaped.delay_s:
                await asyncio.sleep(shaped.delay_s)
        else:
            data = transfer.stored.data[offset:offset + size]
        key = transfer.stored.key
        solicited = tsn is not None
        tsn = peer.next_tsn() if tsn is None else tsn
        for _ in range(copies):
            sent = await peer.send(block_frame(tsn, key.manufacturer_code, key.image_type, key.file_version,
                                               offset, data))
        if self._watchers:
            self._watchers(Answered(self._loop_now(), transfer.device, OtaCommand.IMAGE_BLOCK, Status.SUCCESS,
                                    offset=offset, length=len(data), copies=copies, sent=sent))
        if not sent:
            return None
        transfer.record_block(offset, len(data), self._loop_now())
        if not solicited or transfer.high_water >= transfer.stored.size:
            # A page's block answers no request of its own, and after the last block the device
            # has upgrade_end_timeout_s: the stall timer counts from here. A block that answers a
            # request keeps the timer _admit set as the request came in.
            self._arm_stall_timer(transfer)
        progress = transfer.progress_due(self.config.progress_step_percent)
        if progress is not None:
            self._listeners(progress)
        return len(data)

    def _arm_stall_timer(self, transfer: Transfer) -> None:
        last_block_out = transfer.high_water >= transfer.stored.size
        timeout = self.config.upgrade_end_timeout_s if last_block_out else self.config.stall_timeout_s
        transfer.arm_stall_timer(timeout, self._stalled)

    def _stalled(self, transfer: Transfer, timeout: float) -> None:
        if self._transfers.get(transfer.device) is transfer:
            self._interrupt(transfer, f"no request from the device for {timeout:g} s")

    def _interrupt(self, transfer: Transfer, reason: str) -> None:
        """``transfer`` stops short; its image still waits for the device, which may resume."""
        entity = transfer.device
        del self._transfers[entity]
        transfer.stop()
        self._listeners(transfer.interrupted(reason, self._loop_now()))
        self._interrupted[entity] = transfer
        if self.store.waiting_for(entity) is not None:
            self._wait_for(entity)

    # -- targets waited for ---------------------------------------------------------------------

    def _wait_for(self, entity: EntityId) -> None:
        """Give ``entity`` ``target_wait_s`` from now to get a transfer going (again)."""
        self._stop_wait(entity)
        self._waits[entity] = asyncio.get_running_loop().call_later(self.config.target_wait_s, self._give_up, entity)

    def _stop_wait(self, entity: EntityId) -> None:
        handle = self._waits.pop(entity, None)
        if handle is not None:
            handle.cancel()

    def _give_up(self, entity: EntityId) -> None:
        """``entity`` let ``target_wait_s`` pass with no transfer under way: CCS08 result 3."""
        self._waits.pop(entity, None)
        if entity in self._transfers:
            return
        wait = self.config.target_wait_s
        while (stored := self.store.waiting_for(entity)) is not None:
            interrupted = self._interrupted.get(entity)
            self._settle(stored, entity)
            if interrupted is not None and interrupted.stored is stored:
                outcome = interrupted.outcome(TransferResult.FILE_TRANSFER_FAILURE,
                                              f"the device did not come back to its transfer within {wait:g} s",
                                              self._loop_now())
            else:
                outcome = unstarted_outcome(entity, stored, TransferResult.FILE_TRANSFER_FAILURE,
                                            f"the device started no transfer within {wait:g} s", self._loop_now())
            self._listeners(outcome)

    def _settle(self, stored: StoredImage, entity: EntityId) -> None:
        """``entity`` is done with ``stored``: the store no longer holds it for the device."""
        self.store.settle(stored, entity)
        self._forget_if_settled(entity)

    def _forget_if_settled(self, entity: EntityId) -> None:
        if self.store.waiting_for(entity) is None:
            self._stop_wait(entity)
            self._interrupted.pop(entity, None)

    def _finish(
        self,
        entity: EntityId,
        result: TransferResult,
        reason: str,
        *,
        device_status: Status | None = None,
        upgrade_time: int | None = None,
    ) -> None:
        transfer = self._transfers.pop(entity)
        transfer.stop()
        self._listeners(
            transfer.outcome(result, reason, self._loop_now(), device_status=device_status, upgrade_time=upgrade_time)
        )

    # -- zigpy plumbing ---------------------------------------------------------------------------

    def _peer(self, entity: EntityId) -> OtaPeer:
        """The OTA client of device ``entity``, to send to; :class:`BadInput` if it is not on the network."""
        try:
            device = self._hooks.app.get_device(ieee=eui64_of(entity))
        except KeyError:
            raise BadInput(f"device {entity} is not on the CH's network") from None
        cluster = device.find_cluster(Ota.cluster_id, ClusterType.Client)
        return OtaPeer(entity, cluster.endpoint)

    def _loop_now(self) -> float:
        return self.clock.loop.time()

    @staticmethod
    def _utc_seconds(when: dt.datetime) -> int:
        return int((when - ZIGBEE_EPOCH).total_seconds())


class Refusal(NamedTuple):
    """What a block or page request gets instead of a block: an Image Block Response with
    ``status`` (WAIT_FOR_DATA telling the device to come back at loop time ``until``), or
    nothing at all (``status`` None: the CH is restarting, or a fault keeps it silent)."""

    status: Status | None
    until: float | None = None


#: No answer: the request goes unheard.
_SILENCE = Refusal(None)
_ABORT = Refusal(Status.ABORT)
_MALFORMED = Refusal(Status.MALFORMED_COMMAND)

#: Upgrade End's command ID, which a Default Response to it names.
_UPGRADE_END = Ota.ServerCommandDefs.upgrade_end.id


class OtaPeer:
    """A device's OTA client as the server answers it: its entity ID and the zigpy endpoint
    its requests come from, which is where zigpy's ``Cluster.reply`` sends from."""

    __slots__ = ("entity", "endpoint")

    def __init__(self, entity: EntityId, endpoint: Endpoint) -> None:
        self.entity = entity
        self.endpoint = endpoint

    def next_tsn(self) -> int:
        """A TSN for an unsolicited frame, from the device's sequence as zigpy takes one."""
        return self.endpoint.device.get_sequence()

    def reply(self, frame: bytes) -> Coroutine[Any, Any, None]:
        """Send one ZCL frame built by :mod:`hanbench.radio.zcl_frames` as ``Cluster.reply``
        does (its TSN and command are the frame's), through ``Endpoint.reply`` or the same
        packet by :meth:`~hanbench.radio.se_profile.SmartEnergyDevice.send_reply` (returned to
        be awaited, not wrapped in a coroutine of its own); zigpy's ``DeliveryError`` if it is
        lost."""
        endpoint = self.endpoint
        aps_encryption = endpoint.out_clusters[Ota.cluster_id].aps_encryption
        device = endpoint.device
        if isinstance(device, SmartEnergyDevice):
            return device.send_reply(endpoint, Ota.cluster_id, frame, aps_encryption=aps_encryption)
        return endpoint.reply(Ota.cluster_id, frame[1], frame, command_id=frame[2], aps_encryption=aps_encryption)

    async def send(self, frame: bytes) -> bool:
        """Send one reply; False if the device did not get it (asleep, lost on the air).

        A lost reply is not an error of the server: the device retries, or the stall timer
        ends the transfer.
        """
        try:
            await self.reply(frame)
        except zigpy.exceptions.DeliveryError as exc:
            LOGGER.debug("OTA reply not delivered: %s", exc)
            return False
        return True


def _claim_ota(device: Device, claimed: bool) -> None:
    """Make zigpy's own OTA handling stand aside for ``device`` (or take over again)."""
    device.ota_in_progress = claimed


def _asked_block(now: float, entity: EntityId, cmd: ImageBlock | ImagePage) -> Asked:
    """The log's record of an Image Block or Image Page Request."""
    if isinstance(cmd, ImagePage):
        return Asked(now, entity, OtaCommand.IMAGE_PAGE, cmd.file_version, offset=cmd.file_offset,
                     maximum_data_size=cmd.maximum_data_size, page_size=cmd.page_size,
                     response_spacing_ms=cmd.response_spacing)
    return Asked(now, entity, OtaCommand.IMAGE_BLOCK, cmd.file_version, offset=cmd.file_offset,
                 maximum_data_size=cmd.maximum_data_size, minimum_block_period_ms=cmd.minimum_block_period)
