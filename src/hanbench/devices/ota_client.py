"""The Zigbee OTA Upgrade client of an emulated HAN device.

It pulls an image from the CH's OTA server the way device firmware does: Query Next Image
(with the device's hardware version), Image Block Requests (or Image Pages) from the last
good offset, and Upgrade End with the status the device's own check of the image gave.
The GBCS part of the device (signature check, receipt alert, CS06) is not here: the client
holds the device as its :class:`ImageJudge` and asks it for its verdict on each complete
download; what the device does with :attr:`OtaOutcome.upgrade_time` is its own business.

Behaviour a test bench needs to get right, because real clients get it wrong (gbcs-domain
research §5):

* a lost Image Block Response is re-requested *at the same offset* after ``block_timeout_s``,
  up to ``max_retries`` times in a row; then the download is *interrupted*, not failed, and
  the bytes so far are kept. The next :meth:`OtaClient.update` (after a wake, after the next
  Image Notify, or the client's own query ``query_interval_s`` later, again until the image is
  in, as a Silicon Labs client queries every few minutes) resumes from the last good offset
  of the same image. A client never goes
  back to offset 0 for an image it has partly downloaded (only the server's ABORT, or an
  offer of a different image, drops the partial bytes);
* WAIT_FOR_DATA is honoured: the client sleeps until the server's ``request_time`` (relative
  to the server's ``current_time``, so clocks need not agree) or for the
  ``minimum_block_period``, whichever is longer, and from then on keeps at least that period
  between block requests, telling the server so in the request's MinimumBlockPeriod field;
* Image Page mode (``page_size``) asks for a page and collects the unsolicited block
  responses; a gap in a page costs one page re-request from the gap, not a restart;
* the ZCL OTA client attributes a server may read are kept current: ImageUpgradeStatus
  (Normal, Download in progress, Download complete, Waiting to upgrade or Count down, back to
  Normal once the device runs a new image), FileOffset (the next byte it will ask for) and
  DownloadedFileVersion (the image held, 0xFFFFFFFF for none);
* an Upgrade End Response that gives an upgrade time (solicited or not: the CH sends an IHD
  its own) puts the held image in Count down and is handed to the device
  (:meth:`ImageJudge.upgrade_command`): whether it runs the image is the device's business (a
  GBCS device waits for CS06).

A device built with known-bad behaviour (:mod:`hanbench.devices.defects`) has its OTA ones
here, each at the one place it deviates: it asks for oversized blocks, ignores WAIT_FOR_DATA
or gives up after a run of them, goes back to offset 0 after a lost block, appends a duplicated
block twice or a page's blocks in the order they come, leaves its hardware version out of its
query, ignores the query jitter, or never tells the server it refused an image.

All waiting is in event-loop time, so emulated downloads run in virtual time. The OTA frames
are built and read with :mod:`hanbench.radio.zcl_frames` (zigpy's bytes, without the cost of
zigpy's ``Struct`` machinery on every block).
"""

from __future__ import annotations

import asyncio
import enum
import hashlib
import logging
import random
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, Protocol

import zigpy.exceptions
import zigpy.types as t
from zigpy.zcl import foundation
from zigpy.zcl.clusters.general import ImageNotifyCommand, Ota

from hanbench.devices.defects import NO_DEFECTS, Defect, Defects
from hanbench.devices.node import EmulatedNode
from hanbench.errors import BadInput
from hanbench.listeners import Listeners
from hanbench.radio.se_profile import step_now
from hanbench.radio.zcl_frames import (
    HARDWARE_VERSION_PRESENT,
    MINIMUM_BLOCK_PERIOD_PRESENT,
    ImageBlock,
    ImageBlockResponse,
    ImageNotify,
    ImagePage,
    OtaAnswer,
    QueryNextImage,
    QueryNextImageResponse,
    UpgradeEnd,
    UpgradeEndResponse,
    ZclHeader,
    read_ota_answer,
    read_ota_request,
)
from hanbench.timing import DEVICE_OTA_TIMEOUT_S, DEVICE_QUERY_INTERVAL_S

LOGGER = logging.getLogger(__name__)

Status = foundation.Status


class ImageJudge(Protocol):
    """The device an OTA client downloads for (:class:`~hanbench.devices.han_device.HanDevice`)."""

    async def judge_image(self, data: bytes) -> foundation.Status:
        """The device's check of a complete download, sent as the Upgrade End status:
        SUCCESS keeps the image (it then waits for activation); INVALID_IMAGE refuses it."""
        ...

    def upgrade_command(self, file_version: int, delay_s: float) -> None:
        """The server said to run image ``file_version`` in ``delay_s`` seconds (an Upgrade End
        Response with an upgrade time other than "wait for the upgrade command")."""
        ...


#: The block a device asks for when it has :attr:`Defect.OVERSIZED_BLOCK_REQUESTS`: more than
#: one unfragmented Image Block Response carries (63 bytes of data).
OVERSIZED_BLOCK = 128
#: How long a device with :attr:`Defect.IGNORES_WAIT_FOR_DATA` waits after WAIT_FOR_DATA: the
#: time its stack takes to send the next frame, not the server's request time.
IGNORED_WAIT_S = 0.01

UpgradeStatus = Ota.ImageUpgradeStatus


#: ``upgrade_time`` meaning "wait for the upgrade command" (GBCS: activation is CS06).
WAIT_FOR_UPGRADE_COMMAND = 0xFFFFFFFF
#: DownloadedFileVersion while no downloaded image is held (ZCL OTA: its default).
NO_DOWNLOADED_IMAGE = 0xFFFFFFFF
#: The ImageUpgradeStatus values of a client that holds a complete image it does not run yet.
_HOLDING = frozenset({UpgradeStatus.Download_complete, UpgradeStatus.Waiting_to_upgrade, UpgradeStatus.Count_down})


@dataclass(frozen=True)
class OtaIdentity:
    """What the device tells the server about itself in Query Next Image."""

    manufacturer_code: int
    image_type: int
    hardware_version: int | None = None


@dataclass(frozen=True)
class OtaClientConfig:
    """The client's knobs.

    ``maximum_data_size``: bytes asked for per block (the server may send fewer).
    ``block_timeout_s``: how long to wait for each response before re-requesting.
    ``max_retries``: re-requests in a row before the download is interrupted.
    ``minimum_block_period_ms``: the client's own pacing between block requests (ZCL
    MinimumBlockPeriod attribute); a server's WAIT_FOR_DATA can only raise it.
    ``page_size``: use Image Page requests of this many bytes (``None``: Image Block).
    ``response_spacing_ms``: the spacing asked for between a page's blocks.
    ``seed``: for the ZCL QueryJitter draw on Image Notify.
    ``query_interval_s``: after an interrupted download, query again this long after (and
    again, until the image is in); ``None``: only when told (a wake, an Image Notify).
    """

    maximum_data_size: int = 63
    block_timeout_s: float = DEVICE_OTA_TIMEOUT_S
    max_retries: int = 5
    minimum_block_period_ms: int = 0
    page_size: int | None = None
    response_spacing_ms: int = 0
    seed: int = 0
    query_interval_s: float | None = DEVICE_QUERY_INTERVAL_S

    def __post_init__(self) -> None:
        if not 1 <= self.maximum_data_size <= 0xFF:
            raise BadInput(f"maximum data size must be 1..255, got {self.maximum_data_size}")
        if self.block_timeout_s <= 0:
            raise BadInput(f"block timeout must be > 0 s, got {self.block_timeout_s}")
        if self.max_retries < 0:
            raise BadInput(f"max retries must be >= 0, got {self.max_retries}")
        if not 0 <= self.minimum_block_period_ms <= 0xFFFF:
            raise BadInput(f"minimum block period must be 0..65535 ms, got {self.minimum_block_period_ms}")
        if self.page_size is not None and not 1 <= self.page_size <= 0xFFFF:
            raise BadInput(f"page size must be 1..65535, got {self.page_size}")
        if not 0 <= self.response_spacing_ms <= 0xFFFF:
            raise BadInput(f"response spacing must be 0..65535 ms, got {self.response_spacing_ms}")
        if self.query_interval_s is not None and self.query_interval_s <= 0:
            raise BadInput(f"query interval must be > 0 s, got {self.query_interval_s}")


class ClientResult(enum.Enum):
    """How one :meth:`OtaClient.update` ended."""

    NO_IMAGE = "no image"            # the server answered NO_IMAGE_AVAILABLE (or nothing)
    KEPT = "kept"                    # downloaded, verdict SUCCESS, Upgrade End answered
    REFUSED = "refused"              # downloaded, the device's verdict was not SUCCESS
    ABORTED = "aborted"              # the server answered ABORT; the partial image is dropped
    INTERRUPTED = "interrupted"      # out of retries; the partial image is kept for resuming


@dataclass(frozen=True)
class OtaOutcome:
    """What one update did, for the device's GBCS layer, tests and benchmarks.

    ``resumed_from`` is the offset this update started downloading at (0 for a fresh
    image); ``offset`` the bytes held at the end. ``waits`` counts WAIT_FOR_DATA answers,
    ``wait_s`` the loop time spent honouring them. ``upgrade_time`` is the server's
    answer to Upgrade End (0xFFFFFFFF: wait for the activation command).
    """

    result: ClientResult
    file_version: int | None = None
    image_size: int | None = None
    resumed_from: int = 0
    offset: int = 0
    blocks: int = 0
    retries: int = 0
    waits: int = 0
    wait_s: float = 0.0
    pages: int = 0
    end_status: foundation.Status | None = None
    upgrade_time: int | None = None
    image_sha256: bytes | None = None
    started_at: float = 0.0
    finished_at: float = 0.0

    @property
    def duration(self) -> float:
        return self.finished_at - self.started_at


@dataclass(frozen=True)
class ImageOffer:
    """A SUCCESS answer to Query Next Image."""

    manufacturer_code: int
    image_type: int
    file_version: int
    image_size: int


@dataclass
class _Partial:
    """The bytes of one image downloaded so far; survives interruptions."""

    offer: ImageOffer
    data: bytearray = field(default_factory=bytearray)

    @property
    def offset(self) -> int:
        return len(self.data)


@dataclass
class _Counters:
    blocks: int = 0
    retries: int = 0
    waits: int = 0
    wait_s: float = 0.0
    pages: int = 0


class OtaClient:
    """One device's OTA client; see the module docstring.

    ``node`` carries the frames (:meth:`EmulatedNode.request`) and holds the running file
    version (its OTA ``current_file_version`` attribute, which zigpy reads at the
    interview). Feed the node's unsolicited OTA commands to :meth:`handle_command` (Image
    Notify starts an update; page mode's block responses arrive that way), or build the
    device on :class:`OtaClientNode`, which does.
    """

    def __init__(
        self,
        node: EmulatedNode,
        identity: OtaIdentity,
        judge: ImageJudge,
        config: OtaClientConfig | None = None,
        defects: Defects = NO_DEFECTS,
    ) -> None:
        self.node = node
        self.identity = identity
        self.judge = judge
        self.config = config if config is not None else OtaClientConfig()
        self.defects = defects
        self._block_size = OVERSIZED_BLOCK if defects.has(Defect.OVERSIZED_BLOCK_REQUESTS) \
            else self.config.maximum_data_size
        #: Every finished update, oldest first.
        self.outcomes: list[OtaOutcome] = []
        self._listeners: Listeners[Callable[[OtaOutcome], None]] = Listeners()
        self._partial: _Partial | None = None
        self._period_s = self.config.minimum_block_period_ms / 1000
        self._last_request_at: float | None = None
        self._running: asyncio.Task[OtaOutcome] | None = None
        self._query_again: asyncio.TimerHandle | None = None  # the query after an interrupted download
        self._page_blocks: asyncio.Queue[ImageBlockResponse] | None = None
        self._jitter = random.Random(self.config.seed)
        self._set_file_offset = node.attribute_setter(Ota.cluster_id, "file_offset", server=False)
        self._set_downloaded = node.attribute_setter(Ota.cluster_id, "downloaded_file_version", server=False)
        self._set_status(UpgradeStatus.Normal, 0)

    # -- public API ------------------------------------------------------------------

    def on_outcome(self, listener: Callable[[OtaOutcome], None]) -> Callable[[], None]:
        """Call ``listener`` with every finished update, whoever started it (a device that runs
        an image at its server's upgrade time follows them); returns a remover."""
        return self._listeners.add(listener)

    @property
    def current_file_version(self) -> int:
        """The running firmware's file version (what Query Next Image reports)."""
        return int(self.node.get_attribute(Ota.cluster_id, "current_file_version", server=False))

    def activated(self, version: int) -> None:
        """The device now runs image ``version`` (CS06, or its own activation): what Query Next
        Image reports from now on, and nothing more to upgrade."""
        self.node.set_attribute(Ota.cluster_id, "current_file_version", version, server=False)
        self._set_status(UpgradeStatus.Normal, 0)

    @property
    def upgrade_status(self) -> Ota.ImageUpgradeStatus:
        """The ImageUpgradeStatus attribute as a server reads it."""
        return Ota.ImageUpgradeStatus(self.node.get_attribute(Ota.cluster_id, "image_upgrade_status", server=False))

    def _set_status(self, status: Ota.ImageUpgradeStatus, offset: int) -> None:
        self.node.set_attribute(Ota.cluster_id, "image_upgrade_status", status, server=False)
        self._set_file_offset(offset)
        if status is UpgradeStatus.Normal:
            self._set_downloaded(NO_DOWNLOADED_IMAGE)

    @property
    def partial_offset(self) -> int:
        """Bytes of a partly downloaded image held for resuming (0 if none)."""
        return 0 if self._partial is None else self._partial.offset

    @property
    def busy(self) -> bool:
        """Whether an update is running."""
        return self._running is not None and not self._running.done()

    async def update(self) -> OtaOutcome:
        """Query, download (resuming), check and end one upgrade; joins a running one.

        Cancelling the caller does not cancel the update (another caller may share it);
        the device's sleep makes it run out of retries instead, keeping the partial image.
        """
        return await asyncio.shield(self.start())

    def start(self) -> asyncio.Task[OtaOutcome]:
        """Start an update in the background (Query Next Image first), unless one is running."""
        if self._running is None or self._running.done():
            self._forget_query_again()
            self._running = asyncio.get_running_loop().create_task(self._update(), name="ota-client-update")
            self._running.add_done_callback(_log_failure)
        return self._running

    async def stop(self) -> None:
        """The device is switched off: the update under way stops where it is, with what a
        client keeps in RAM (a WAIT_FOR_DATA's raised block period). The bytes downloaded so
        far stay: a client keeps its download in its OTA storage and resumes it after a reboot
        from the last good offset (Silicon Labs' OTA client does), so the next update resumes."""
        self._forget_query_again()
        if self._running is not None:
            self._running.cancel()
            await asyncio.gather(self._running, return_exceptions=True)
            self._running = None
        self._page_blocks = None
        self._period_s = self.config.minimum_block_period_ms / 1000
        self._last_request_at = None

    def _forget_query_again(self) -> None:
        if self._query_again is not None:
            self._query_again.cancel()
            self._query_again = None

    async def query(self) -> ImageOffer | None:
        """Send Query Next Image; the server's offer, or ``None`` (no image, or no answer).

        An unanswered query is repeated up to ``max_retries`` times.
        """
        hardware = self.identity.hardware_version
        if self.defects.has(Defect.QUERIES_WITHOUT_HARDWARE_VERSION):
            hardware = None
        query = QueryNextImage(
            0 if hardware is None else HARDWARE_VERSION_PRESENT, self.identity.manufacturer_code,
            self.identity.image_type, self.current_file_version, hardware,
        )
        for attempt in range(self.config.max_retries + 1):
            try:
                rsp = await self._exchange(query)
                break
            except (TimeoutError, zigpy.exceptions.DeliveryError) as exc:
                LOGGER.debug("Query Next Image unanswered (attempt %d): %s", attempt + 1, exc)
        else:
            return None
        if not isinstance(rsp, QueryNextImageResponse) or rsp.status != Status.SUCCESS:
            return None
        assert rsp.manufacturer_code is not None and rsp.image_type is not None
        assert rsp.file_version is not None and rsp.image_size is not None
        return ImageOffer(rsp.manufacturer_code, rsp.image_type, rsp.file_version, rsp.image_size)

    def handle_command(self, cmd: OtaAnswer) -> bool:
        """An unsolicited OTA command from the server; True if the client consumed it.

        Image Notify (for this device's image, passing the QueryJitter draw) starts an
        update in the background; a page's Image Block Responses go to the running page.
        """
        if isinstance(cmd, ImageNotify):
            if self._wants(cmd):
                self.start()
            return True
        if isinstance(cmd, ImageBlockResponse):
            if self._page_blocks is not None:
                self._page_blocks.put_nowait(cmd)
            elif self.defects.has(Defect.APPENDS_DUPLICATE_BLOCKS) and self._partial is not None \
                    and cmd.status == Status.SUCCESS and cmd.image_data:
                self._partial.data += cmd.image_data  # a copy nobody asked for, taken as the next bytes
            return True
        if isinstance(cmd, UpgradeEndResponse):
            self._upgrade_time(cmd.file_version, cmd.current_time, cmd.upgrade_time)
            return True
        return False

    def _upgrade_time(self, file_version: int, current_time: int, upgrade_time: int) -> None:
        """An Upgrade End Response, the answer to the client's Upgrade End or the server's own
        (the CH's upgrade command to an IHD). For the image the client holds, ImageUpgradeStatus
        shows what it was told (ZCL OTA): Count_down to an upgrade time, Waiting_to_upgrade on
        "wait for the upgrade command" as the answer to its Upgrade End (an unsolicited "wait"
        changes nothing: the client already waits). The upgrade time goes to the device, whose
        business it is to run the image then."""
        held = self.upgrade_status in _HOLDING and file_version == self.node.get_attribute(
            Ota.cluster_id, "downloaded_file_version", server=False)
        wait = upgrade_time == WAIT_FOR_UPGRADE_COMMAND
        offset = self.node.get_attribute(Ota.cluster_id, "file_offset", server=False)
        if held and not wait:
            self._set_status(UpgradeStatus.Count_down, offset)
        elif held and self.upgrade_status is UpgradeStatus.Download_complete:
            self._set_status(UpgradeStatus.Waiting_to_upgrade, offset)
        if not wait:
            self.judge.upgrade_command(file_version, max(0, upgrade_time - current_time))

    # -- the update ------------------------------------------------------------------

    def _wants(self, notify: ImageNotify) -> bool:
        """ZCL Image Notify rules: jitter draw, then the optional identity fields must match."""
        if self._jitter.randint(1, 100) > notify.query_jitter and not self.defects.has(Defect.IGNORES_QUERY_JITTER):
            return False
        kind = ImageNotifyCommand.PayloadType
        if notify.payload_type >= kind.QueryJitter_ManufacturerCode and \
                notify.manufacturer_code != self.identity.manufacturer_code:
            return False
        if notify.payload_type >= kind.QueryJitter_ManufacturerCode_ImageType and \
                notify.image_type != self.identity.image_type:
            return False
        if notify.payload_type >= kind.QueryJitter_ManufacturerCode_ImageType_NewFileVersion and \
                notify.new_file_version == self.current_file_version:
            return False
        return True

    async def _update(self) -> OtaOutcome:
        loop = asyncio.get_running_loop()
        started = loop.time()
        offer = await self.query()
        if offer is None:
            return self._record(OtaOutcome(ClientResult.NO_IMAGE, started_at=started, finished_at=loop.time()))
        if self._partial is None or self._partial.offer != offer:
            self._partial = _Partial(offer)
        partial = self._partial
        self._set_status(UpgradeStatus.Download_in_progress, partial.offset)
        counters = _Counters()
        resumed_from = partial.offset
        download = self._download_pages if self.config.page_size is not None else self._download_blocks
        result = await download(partial, counters)

        def outcome(result: ClientResult, **extra: Any) -> OtaOutcome:
            return self._record(OtaOutcome(
                result, offer.file_version, offer.image_size, resumed_from, partial.offset,
                counters.blocks, counters.retries, counters.waits, counters.wait_s, counters.pages,
                started_at=started, finished_at=loop.time(), **extra,
            ))

        if result is not None:
            if result is ClientResult.ABORTED:
                self._partial = None
                self._set_status(UpgradeStatus.Normal, 0)
            # A sleepy device asks again at its next wake, not on a timer while its receiver is off.
            if result is ClientResult.INTERRUPTED and self.config.query_interval_s is not None \
                    and self.node.rx_on_when_idle:
                self._query_again = loop.call_later(self.config.query_interval_s, self.start)
            return outcome(result)
        data = bytes(partial.data)
        self._partial = None
        self._set_status(UpgradeStatus.Download_complete, len(data))
        self._set_downloaded(offer.file_version)
        verdict = await self.judge.judge_image(data)
        kept = verdict == Status.SUCCESS
        if not kept and self.defects.has(Defect.NEVER_SENDS_INVALID_IMAGE):
            upgrade_time = None
        else:
            upgrade_time = await self._upgrade_end(offer, verdict)
        if not kept:
            self._set_status(UpgradeStatus.Normal, 0)
        return outcome(
            ClientResult.KEPT if kept else ClientResult.REFUSED,
            end_status=verdict, upgrade_time=upgrade_time, image_sha256=hashlib.sha256(data).digest(),
        )

    async def _download_blocks(self, partial: _Partial, counters: _Counters) -> ClientResult | None:
        """Image Block Requests until the image is complete; a result only if it stopped early."""
        offer = partial.offer
        misses = 0
        while partial.offset < offer.image_size:
            await self._pace()
            period_ms = round(self._period_s * 1000) if self._period_s else None
            request = ImageBlock(
                0 if period_ms is None else MINIMUM_BLOCK_PERIOD_PRESENT, offer.manufacturer_code,
                offer.image_type, offer.file_version, partial.offset, self._block_size, None, period_ms,
            )
            try:
                rsp = await self._exchange(request)
            except (TimeoutError, zigpy.exceptions.DeliveryError) as exc:
                misses += 1
                counters.retries += 1
                if self.defects.has(Defect.RESTARTS_AFTER_LOST_BLOCK):
                    partial.data.clear()
                LOGGER.debug("block at %d unanswered (%d in a row): %s", partial.offset, misses, exc)
                if misses > self.config.max_retries:
                    return ClientResult.INTERRUPTED
                continue
            misses = misses + 1 if self._gives_up_on(rsp) else 0
            if misses > self.config.max_retries:
                return ClientResult.INTERRUPTED
            stop = await self._take(partial, rsp, counters)
            if stop is not None:
                return stop
        return None

    def _gives_up_on(self, rsp: OtaAnswer | None) -> bool:
        """Whether ``rsp`` counts as a failed attempt: only for a device with
        :attr:`Defect.GIVES_UP_ON_WAIT_FOR_DATA`, which so counts WAIT_FOR_DATA."""
        return (self.defects.has(Defect.GIVES_UP_ON_WAIT_FOR_DATA) and isinstance(rsp, ImageBlockResponse)
                and rsp.status == Status.WAIT_FOR_DATA)

    async def _download_pages(self, partial: _Partial, counters: _Counters) -> ClientResult | None:
        """Image Page Requests until the image is complete; a result only if it stopped early.

        A page that ends short (a block lost, a block out of order) is re-requested from the
        first missing byte; ``max_retries`` pages in a row that bring nothing interrupt.
        """
        offer = partial.offer
        page_size = self.config.page_size
        assert page_size is not None
        misses = 0
        queue: asyncio.Queue[ImageBlockResponse] = asyncio.Queue()
        self._page_blocks = queue
        try:
            while partial.offset < offer.image_size:
                await self._pace()
                start, page_end = partial.offset, min(partial.offset + page_size, offer.image_size)
                while not queue.empty():
                    queue.get_nowait()  # late blocks of an earlier page
                counters.pages += 1
                page = ImagePage(
                    0, offer.manufacturer_code, offer.image_type, offer.file_version, start,
                    self._block_size, page_size, self.config.response_spacing_ms,
                )
                try:
                    await self.node.send(Ota.cluster_id, page.frame(self.node.next_tsn(), expect_reply=False))
                except zigpy.exceptions.DeliveryError as exc:
                    LOGGER.debug("page request at %d not delivered: %s", start, exc)
                waited = await self._collect_page(partial, queue, page_end, counters)
                if isinstance(waited, ClientResult):
                    return waited
                if waited or partial.offset >= page_end:
                    misses = 0
                    continue
                counters.retries += 1
                misses = 0 if partial.offset > start else misses + 1
                if misses > self.config.max_retries:
                    return ClientResult.INTERRUPTED
            return None
        finally:
            self._page_blocks = None

    async def _collect_page(
        self, partial: _Partial, queue: asyncio.Queue[ImageBlockResponse], page_end: int, counters: _Counters
    ) -> ClientResult | bool:
        """Take a page's blocks in order; True if the server said WAIT_FOR_DATA, a result to stop."""
        while partial.offset < page_end:
            try:
                rsp = await asyncio.wait_for(queue.get(), self.config.block_timeout_s)
            except TimeoutError:
                return False
            if rsp.status == Status.SUCCESS and rsp.file_offset != partial.offset:
                if not self.defects.has(Defect.TAKES_PAGE_BLOCKS_AS_THEY_COME):
                    continue  # after a gap, or left over from an earlier page
                rsp = rsp._replace(file_offset=partial.offset)  # taken as the next bytes, wherever they belong
            stop = await self._take(partial, rsp, counters)
            if stop is not None:
                return stop
            if rsp.status == Status.WAIT_FOR_DATA:
                return True
        return False

    async def _take(self, partial: _Partial, rsp: OtaAnswer | None, counters: _Counters) -> ClientResult | None:
        """Apply one Image Block Response; a result if the download must stop."""
        offer = partial.offer
        if not isinstance(rsp, ImageBlockResponse):
            LOGGER.debug("server answered a block request with %r", rsp)
            return ClientResult.ABORTED
        if rsp.status == Status.SUCCESS:
            same_image = (rsp.manufacturer_code == offer.manufacturer_code and rsp.image_type == offer.image_type
                          and rsp.file_version == offer.file_version)
            if not same_image or rsp.file_offset != partial.offset or not rsp.image_data:
                counters.retries += 1
                return None
            room = offer.image_size - partial.offset
            partial.data += rsp.image_data[:room]
            counters.blocks += 1
            self._set_file_offset(partial.offset)
            return None
        if rsp.status == Status.WAIT_FOR_DATA:
            assert rsp.minimum_block_period is not None
            assert rsp.request_time is not None and rsp.current_time is not None
            counters.waits += 1
            if self.defects.has(Defect.IGNORES_WAIT_FOR_DATA):
                await asyncio.sleep(IGNORED_WAIT_S)
                return None
            period_s = rsp.minimum_block_period / 1000
            self._period_s = max(self._period_s, period_s)
            delay = max(float(rsp.request_time - rsp.current_time), period_s)
            counters.wait_s += delay
            await asyncio.sleep(delay)
            self._last_request_at = asyncio.get_running_loop().time()
            return None
        LOGGER.debug("server answered %s at offset %d", rsp.status, partial.offset)
        return ClientResult.ABORTED

    async def _pace(self) -> None:
        """Keep the block period between two requests."""
        loop = asyncio.get_running_loop()
        if self._period_s and self._last_request_at is not None:
            delay = self._last_request_at + self._period_s - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
        self._last_request_at = loop.time()

    async def _upgrade_end(self, offer: ImageOffer, status: foundation.Status) -> int | None:
        """Send Upgrade End; the server's ``upgrade_time`` (``None`` for a default response),
        handed to the device (:meth:`ImageJudge.upgrade_command`) unless it says wait."""
        for _ in range(self.config.max_retries + 1):
            try:
                rsp = await self._exchange(UpgradeEnd(status, offer.manufacturer_code, offer.image_type,
                                                      offer.file_version))
            except (TimeoutError, zigpy.exceptions.DeliveryError):
                continue
            if not isinstance(rsp, UpgradeEndResponse):
                return None
            # A device that ran the image as it judged it (a PPMID) is no longer waiting for anything.
            if self.upgrade_status is UpgradeStatus.Download_complete:
                self._upgrade_time(offer.file_version, rsp.current_time, rsp.upgrade_time)
            return rsp.upgrade_time
        return None

    def _exchange(self, request: QueryNextImage | ImageBlock | UpgradeEnd) -> Coroutine[Any, Any, OtaAnswer | None]:
        """Send one request and return the server's answer (None: a frame that is not one),
        to be awaited (the node's exchange as it is, not wrapped in a coroutine of its own)."""
        return self.node.exchange(Ota.cluster_id, request.frame(self.node.next_tsn()), read_ota_answer,
                                  timeout=self.config.block_timeout_s)

    def _record(self, outcome: OtaOutcome) -> OtaOutcome:
        self.outcomes.append(outcome)
        self._listeners(outcome)
        return outcome


def _log_failure(task: asyncio.Task[OtaOutcome]) -> None:
    """An update nobody awaits (started by Image Notify) must not fail silently."""
    if not task.cancelled() and task.exception() is not None:
        LOGGER.error("OTA update failed", exc_info=task.exception())


class OtaClientNode(EmulatedNode):
    """An emulated node whose OTA client hears the server's unsolicited OTA commands.

    ``ota_identity``, ``judge``, ``ota_config`` and ``defects`` build :attr:`ota`; everything else is
    :class:`EmulatedNode`'s (the node must list the OTA cluster among its client clusters).
    Device types derive from this and extend :meth:`handle_cluster_command` for their own
    clusters.
    """

    def __init__(
        self,
        *args: Any,
        ota_identity: OtaIdentity,
        judge: ImageJudge,
        ota_config: OtaClientConfig | None = None,
        defects: Defects = NO_DEFECTS,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        if Ota.cluster_id not in self.client_clusters:
            raise BadInput(f"{self.ieee} needs the OTA cluster (0x0019) among its client clusters")
        self.ota = OtaClient(self, ota_identity, judge, ota_config, defects)

    def receive(self, packet: t.ZigbeePacket) -> None:
        """Take a frame off the air as the node does; if it was the answer the running update
        waits for, the update carries on at once (its next request goes out from this call)
        rather than on the loop's next iteration (:func:`~hanbench.radio.se_profile.step_now`):
        the device's firmware acts on the frame as it gets it, and a block costs one pass of
        the event loop less."""
        super().receive(packet)
        running = self.ota._running
        if running is not None:
            step_now(running)

    def read_command(self, cluster_id: int, header: ZclHeader, payload: bytes) -> Any:
        """The server's OTA commands as :mod:`hanbench.radio.zcl_frames` reads them, and the
        requests of devices behind this one when it serves OTA too (an orchestrating Alt HAN
        bridge); the rest (an attribute read of the interview) as the node does."""
        if cluster_id == Ota.cluster_id:
            read = read_ota_answer if header.server_to_client else read_ota_request
            command = read(header, payload)
            if command is not None:
                return command
        return super().read_command(cluster_id, header, payload)

    async def handle_cluster_command(
        self, packet: t.ZigbeePacket, header: ZclHeader, command: Any
    ) -> foundation.Status | None:
        if packet.cluster_id == Ota.cluster_id and self.ota.handle_command(command):
            return Status.SUCCESS
        return await super().handle_cluster_command(packet, header, command)
