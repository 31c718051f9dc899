"""Service Requests over thousands of devices, paced the way a supplier's systems pace them.

A supplier does not fire an SR 11.3 at every meter of its portfolio in the same second: its
systems cap how many requests wait for an answer at once (each SR 11.3 to a GSME waits for
the meter's next wake) and how many start per second, and SR 11.1 carries a device list of
bounded length. :class:`Throttle` is those three knobs; :class:`Pacer` holds a throttle to
them on the event loop (a semaphore for the cap, a start time per request for the rate);
:class:`BulkRequests` sends SR 11.1, 11.2, 11.3 and 11.4 over a device set through it and
gathers one :class:`SetResult`.

An SR 11.3 needs the Manufacturer Image Hash of what it activates: over a set, each device's
pending image (what the DCC recorded as distributed to it) gives it, as a supplier's systems
know the hash of the image they sent. A device with no pending image gets no SR and is
named in :attr:`SetResult.skipped`.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from hanbench.dcc.inventory import Inventory
from hanbench.dcc.service_requests import (
    ActivateFirmware,
    Outcome,
    ReadFirmwareVersion,
    Request,
    RequestResult,
    Submit,
    TargetResult,
    UpdateFirmware,
    UpdatePpmidFirmware,
)
from hanbench.errors import BadInput
from hanbench.gbcs.entity import EntityId

_T = TypeVar("_T")
_R = TypeVar("_R")

@dataclass(frozen=True)
class Throttle:
    """At most ``concurrency`` requests in flight, at most ``rate_per_s`` started per second
    (None: as fast as the cap allows), ``batch`` devices per SR 11.1 / 11.4 device list."""

    concurrency: int = 50
    rate_per_s: float | None = None
    batch: int = 50

    def __post_init__(self) -> None:
        if self.concurrency < 1 or self.batch < 1:
            raise BadInput(f"a throttle lets at least one request and one device through, got concurrency "
                           f"{self.concurrency} and batch {self.batch}")
        if self.rate_per_s is not None and not self.rate_per_s > 0:
            raise BadInput(f"a request rate is above 0 per second, got {self.rate_per_s}")


class Pacer:
    """A :class:`Throttle` at work on the running loop: every call of :meth:`run` waits for its turn."""

    def __init__(self, throttle: Throttle) -> None:
        self.throttle = throttle
        self._slots = asyncio.Semaphore(throttle.concurrency)
        self._next_start: float | None = None
        #: The most requests that were in flight at once, and how many ran: for reports and tests.
        self.peak = 0
        self.started = 0
        self._in_flight = 0

    async def run(self, work: Callable[[], Awaitable[_T]]) -> _T:
        """``work()`` once a slot is free and the rate allows another start."""
        async with self._slots:
            await self._start_slot()
            self.started += 1
            self._in_flight += 1
            self.peak = max(self.peak, self._in_flight)
            try:
                return await work()
            finally:
                self._in_flight -= 1

    async def map(self, items: Iterable[_T], action: Callable[[_T], Awaitable[_R]]) -> list[_R]:
        """``action`` on every item through the pacer, results in the items' order."""
        return list(await asyncio.gather(*(self.run(lambda item=item: action(item)) for item in items)))

    async def _start_slot(self) -> None:
        rate = self.throttle.rate_per_s
        if rate is None:
            return
        loop = asyncio.get_running_loop()
        now = loop.time()
        start = now if self._next_start is None else max(now, self._next_start)
        self._next_start = start + 1.0 / rate
        if start > now:
            await asyncio.sleep(start - now)


@dataclass(frozen=True)
class SetResult:
    """What came of requests over a device set: every SR sent, and devices sent none (with why)."""

    requests: tuple[RequestResult, ...]
    skipped: dict[EntityId, str] = field(default_factory=dict)

    @property
    def targets(self) -> dict[EntityId, TargetResult]:
        """Each device's result, by device."""
        return {t.device: t for request in self.requests for t in request.targets}

    def outcomes(self) -> Counter[Outcome]:
        """How many devices ended in each outcome."""
        return Counter(t.outcome for t in self.targets.values())

    def with_outcome(self, outcome: Outcome) -> tuple[EntityId, ...]:
        return tuple(device for device, t in self.targets.items() if t.outcome is outcome)


class BulkRequests:
    """One user's Service Requests over device sets, through one :class:`Pacer`."""

    def __init__(self, inventory: Inventory, submit: Submit, throttle: Throttle) -> None:
        self.inventory = inventory
        self.pacer = Pacer(throttle)
        self._submit = submit

    async def submit(self, request: Request) -> RequestResult:
        """One request through the pacer (what automation over a set sends its SRs with)."""
        return await self.pacer.run(lambda: self._submit(request))

    async def update_firmware(self, image: bytes, devices: Sequence[EntityId]) -> SetResult:
        """SR 11.1 of ``image``, one per ``batch`` devices."""
        return await self._by_batch(devices, lambda batch: UpdateFirmware(image, batch))

    async def update_ppmid_firmware(self, image: bytes, devices: Sequence[EntityId]) -> SetResult:
        """SR 11.4 of ``image``, one per ``batch`` devices."""
        return await self._by_batch(devices, lambda batch: UpdatePpmidFirmware(image, batch))

    async def read_firmware_version(self, devices: Sequence[EntityId]) -> SetResult:
        """SR 11.2 to each device."""
        return SetResult(tuple(await self.pacer.map(devices, lambda d: self._submit(ReadFirmwareVersion(d)))))

    async def activate_firmware(self, devices: Sequence[EntityId], *, execution: datetime | None = None) -> SetResult:
        """SR 11.3 to each device with a pending image, for that image's hash, now or at ``execution``."""
        requests: list[ActivateFirmware] = []
        skipped: dict[EntityId, str] = {}
        for device in devices:
            pending = self.inventory.device(device).pending
            if pending is None:
                skipped[device] = "no pending image to activate"
            else:
                requests.append(ActivateFirmware(device, pending.hash, execution))
        return SetResult(tuple(await self.pacer.map(requests, self._submit)), skipped)

    async def _by_batch(self, devices: Sequence[EntityId], request: Callable[[tuple[EntityId, ...]], Request]
                        ) -> SetResult:
        size = self.pacer.throttle.batch
        batches = [tuple(devices[i:i + size]) for i in range(0, len(devices), size)]
        return SetResult(tuple(await self.pacer.map(batches, lambda batch: self._submit(request(batch)))))
