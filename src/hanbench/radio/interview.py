"""Waiting for zigpy to finish interviewing a device, on any zigpy radio.

A device that joins is interviewed by zigpy in the background; the bench must not send it
anything before zigpy knows its endpoints. zigpy reports the outcome only as application
listener events (``device_initialized`` / ``device_init_failure``); this turns them into
an awaitable.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

import zigpy.application
import zigpy.device
import zigpy.exceptions
import zigpy.types as t

from hanbench.errors import InfrastructureFault


class InterviewFailed(InfrastructureFault):
    """zigpy gave up interviewing a device (it did not answer its ZDO or Basic requests)."""


class _InterviewListener:
    def __init__(self, ieee: t.EUI64, future: asyncio.Future[zigpy.device.Device]) -> None:
        self._ieee = ieee
        self._future = future

    def device_initialized(self, device: zigpy.device.Device) -> None:
        if device.ieee == self._ieee and not self._future.done():
            self._future.set_result(device)

    def device_init_failure(self, device: zigpy.device.Device) -> None:
        if device.ieee == self._ieee and not self._future.done():
            self._future.set_exception(InterviewFailed(f"zigpy could not interview {device.ieee}"))


async def wait_interviewed(
    app: zigpy.application.ControllerApplication, ieee: t.EUI64, *, timeout: float = 120.0
) -> zigpy.device.Device:
    """The zigpy device for ``ieee`` once its interview has completed.

    Returns at once if it already has. Raises :class:`InterviewFailed` if zigpy reports a
    failure, ``TimeoutError`` after ``timeout`` loop seconds. Call it straight after the
    device's join: the interview needs several round trips on the air, so its end cannot
    have passed unseen.
    """
    device = app.devices.get(ieee)
    if device is not None and device.is_initialized:
        return device
    future: asyncio.Future[zigpy.device.Device] = asyncio.get_running_loop().create_future()
    listener = _InterviewListener(ieee, future)
    app.add_listener(listener)
    try:
        async with asyncio.timeout(timeout):
            return await future
    finally:
        app.remove_listener(listener)


#: How many times the coordinator broadcasts its permit before the failure stands.
PERMIT_ATTEMPTS = 3


async def permit_joining(app: zigpy.application.ControllerApplication, permit_s: int) -> None:
    """Open the network for ``permit_s`` seconds, broadcasting the permit again if it fails.

    The permit is a broadcast: on a busy channel CSMA-CA can give up on it (a channel access
    failure, which zigpy raises as ``DeliveryError``), as a real coordinator's stack reports
    now and then; an installer opens the network again. Over thousands of premises on the
    honest air one of them meets it. After :data:`PERMIT_ATTEMPTS` failures the last stands.
    """
    for attempt in range(1, PERMIT_ATTEMPTS + 1):
        try:
            await app.permit(permit_s)
            return
        except zigpy.exceptions.DeliveryError:
            if attempt == PERMIT_ATTEMPTS:
                raise


class Joining(Protocol):
    """A device that can be told to join (an emulated node; a board told to join over serial)."""

    @property
    def ieee(self) -> t.EUI64: ...

    async def join(self) -> None: ...


async def join_and_interview(
    app: zigpy.application.ControllerApplication,
    device: Joining,
    *,
    permit_s: int = 60,
    timeout: float = 120.0,
) -> zigpy.device.Device:
    """Open the network, have ``device`` join, and return zigpy's device once interviewed."""
    await permit_joining(app, permit_s)
    await device.join()
    return await wait_interviewed(app, device.ieee, timeout=timeout)
