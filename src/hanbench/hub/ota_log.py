"""What each device asked of the CH's OTA server, and what the server answered: the instrument's reading.

The CH sees every OTA request a device makes, emulated or real, so it is where a device
conformance test reads how the device behaves on the wire: the block size it asks for, the
offset it resumes from, how long it waits after WAIT_FOR_DATA, the status it ends the upgrade
with. :class:`OtaLog` keeps those records for whoever watches the server
(:meth:`~hanbench.hub.ota_server.OtaServer.watch`); a server nobody watches records nothing.

Times are event-loop seconds (virtual in emulation), as every OTA timing of the CH.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
from collections.abc import Callable, Iterator
from typing import TypeVar

from zigpy.zcl import foundation

from hanbench.errors import CheckFailed
from hanbench.gbcs.entity import EntityId


class OtaCommand(enum.StrEnum):
    """The OTA commands a device sends the server (ZCL OTA 11.13)."""

    QUERY_NEXT_IMAGE = "query_next_image"
    IMAGE_BLOCK = "image_block"
    IMAGE_PAGE = "image_page"
    UPGRADE_END = "upgrade_end"


@dataclasses.dataclass(frozen=True)
class Asked:
    """One request from ``device``: ``file_version`` is the image asked about (for a query, the
    version the device runs); the other fields are those the command carries (``None`` when it
    does not, or when an optional field was left out)."""

    at: float
    device: EntityId
    command: OtaCommand
    file_version: int
    offset: int | None = None
    maximum_data_size: int | None = None
    hardware_version: int | None = None
    minimum_block_period_ms: int | None = None
    page_size: int | None = None
    response_spacing_ms: int | None = None
    status: foundation.Status | None = None


@dataclasses.dataclass(frozen=True)
class Answered:
    """The server's answer to ``device``: ``status``; for a block the ``offset`` it names, its
    ``length`` and how many ``copies`` went; for WAIT_FOR_DATA the ``wait_s`` it asked for;
    for an Upgrade End Response its ``upgrade_time``. ``sent`` is False when the frame did not
    get through, and an answer the server withheld is not recorded at all."""

    at: float
    device: EntityId
    command: OtaCommand
    status: foundation.Status
    offset: int | None = None
    length: int | None = None
    copies: int = 1
    wait_s: float | None = None
    upgrade_time: int | None = None
    sent: bool = True


Record = Asked | Answered
_R = TypeVar("_R", Asked, Answered)


class OtaLogTimeout(CheckFailed, TimeoutError):
    """What a test waited for in the OTA log did not happen in time; the message says what came."""


class OtaLog:
    """The records of one watch, oldest first; see the module docstring."""

    def __init__(self) -> None:
        self.records: list[Record] = []
        self._grew = asyncio.Event()

    def __call__(self, record: Record) -> None:
        self.records.append(record)
        self._grew.set()

    async def until(self, holds: Callable[[], bool], timeout: float, what: str) -> None:
        """Return once ``holds()`` is true of the log (checked as each record arrives), or raise
        :class:`OtaLogTimeout` after ``timeout`` loop seconds, naming ``what`` and the last records."""
        try:
            async with asyncio.timeout(timeout):
                while not holds():
                    self._grew.clear()
                    await self._grew.wait()
        except TimeoutError:
            last = "\n".join(f"  {r}" for r in self.records[-8:]) or "  (nothing)"
            raise OtaLogTimeout(f"timed out after {timeout:g} s waiting for {what}; last records:\n{last}") from None

    def asked(self, device: EntityId | None = None, command: OtaCommand | None = None) -> list[Asked]:
        """Requests, of ``device`` and of ``command`` when given."""
        return [r for r in self._of(Asked, device) if command is None or r.command is command]

    def answered(self, device: EntityId | None = None, status: foundation.Status | None = None) -> list[Answered]:
        """Answers, to ``device`` and with ``status`` when given."""
        return [r for r in self._of(Answered, device) if status is None or r.status == status]

    def blocks_asked(self, device: EntityId | None = None) -> list[Asked]:
        """Image Block and Image Page Requests: the download as the device drove it."""
        return [r for r in self._of(Asked, device) if r.command in (OtaCommand.IMAGE_BLOCK, OtaCommand.IMAGE_PAGE)]

    def _of(self, kind: type[_R], device: EntityId | None) -> Iterator[_R]:
        return (r for r in self.records if isinstance(r, kind) and (device is None or r.device == device))
