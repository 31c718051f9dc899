"""Steps the device conformance tests share: put the image under test in front of the device
through the CH, with the CH's faults set, and read what the device did from the CH's OTA log.

Written against the scripting API and the CH the bench assembles on every kind
(``bench.comms_hub``): the faults are the CH's own answers, real ZCL frames, so the same step
drives an emulated device on the virtual air and a real one through bellows. A module of the
suite's package rather than a ``conftest.py``, as the conformance suite's ``flows``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
from collections.abc import Iterator

import pytest
from zigpy.zcl import foundation

from hanbench import Bench, BenchDevice
from hanbench.gbcs.cs06 import ActivateFirmware, activate_firmware_command
from hanbench.gbcs.device_types import DeviceType
from hanbench.gbcs.frame import GbcsMessage
from hanbench.gbcs.image import UpgradeImage, parse_image
from hanbench.gbcs.image_types import profile_for
from hanbench.hub.comms_hub import CommsHub
from hanbench.hub.ota_log import Asked, OtaCommand, OtaLog, OtaLogTimeout
from hanbench.hub.ota_server import OtaServer

Status = foundation.Status

def ota_server(bench: Bench) -> OtaServer:
    """The CH's OTA server, whose faults a test sets."""
    hub = bench.comms_hub
    assert isinstance(hub, CommsHub), f"the device suite needs the bench's own CH, got {type(hub).__name__}"
    return hub.ota


@contextlib.contextmanager
def watching(bench: Bench) -> Iterator[OtaLog]:
    """Every OTA request and answer between the CH and its devices while the block runs."""
    log = OtaLog()
    stop = ota_server(bench).watch(log)
    try:
        yield log
    finally:
        stop()


def read(device: BenchDevice, image: bytes) -> UpgradeImage:
    """``image`` read as the device's type takes it (signed, or the unsigned SR 11.4 form)."""
    return parse_image(image, signed=profile_for(device.type).signed)


def wait_s(bench: Bench) -> float:
    """How long a delivery may take: the bench's wait for a receipt alert (a GSME: a wake and a transfer)."""
    return bench.config.timing.receipt_alert_wait_s


def quiet_s(bench: Bench) -> float:
    """How long to watch for something that must not happen: two GSME wake intervals."""
    return 2 * bench.config.timing.gsme_wake_interval_s


def answer_timeout_s(bench: Bench) -> float:
    """How long the device waits for an OTA answer before it asks again (``[timing] device_ota_timeout_s``)."""
    return bench.config.timing.device_ota_timeout_s


def ended(log: OtaLog, device: BenchDevice) -> list[Asked]:
    """The device's Upgrade End Requests so far."""
    return log.asked(device.id, OtaCommand.UPGRADE_END)


async def offer(bench: Bench, device: BenchDevice, image: bytes | UpgradeImage) -> None:
    """Offer ``image`` to ``device`` on the direct hub path (past the DCC's checks, so a test can
    send what the DCC would refuse): Image Notify, or a GSME's mirror flag."""
    parsed = image if isinstance(image, UpgradeImage) else read(device, image)
    assert await bench.hub.distribute(parsed, [device.id]), "the CH did not store the image"


#: How long after the CH's Upgrade End Response a test looks at the device: the frame's way
#: back and the device taking it, well within one OTA exchange.
SETTLE_S = 0.2


async def deliver(bench: Bench, device: BenchDevice, image: bytes | UpgradeImage, log: OtaLog, *,
                  extra_s: float = 0.0) -> Asked:
    """:func:`offer` ``image`` and wait for the device's Upgrade End Request, which says what it
    made of the download, and for the CH's answer to it; fails, naming what the log shows, if
    no request comes within the bench's wait plus ``extra_s`` (what the test's own faults add).
    A CH that does not answer (a fault a test set) is waited for as long as the device waits."""
    await offer(bench, device, image)
    await log.until(lambda: bool(ended(log, device)), wait_s(bench) + extra_s, f"{device.name}'s Upgrade End Request")
    try:
        await log.until(lambda: any(a.command is OtaCommand.UPGRADE_END for a in log.answered(device.id)),
                        answer_timeout_s(bench), "the CH's Upgrade End Response")
    except OtaLogTimeout:
        pass
    await bench.advance(SETTLE_S)  # the answer's way to the device, and what the device does with it
    return ended(log, device)[0]


def requests_after(log: OtaLog, device: BenchDevice, at: float) -> list[Asked]:
    """The device's block and page requests after loop time ``at``."""
    return [r for r in log.blocks_asked(device.id) if r.at > at]


def needs(device: BenchDevice, types: frozenset[DeviceType], why: str) -> None:
    """Skip the test unless ``device`` is of one of ``types``, saying why."""
    if device.type not in types:
        pytest.skip(f"{device.name} ({device.type.value}): {why}")


def cs06(bench: Bench, device: BenchDevice, image_hash: bytes, *, counter: int | None = None,
         mac: bool = True, signed: bool = True, execution: dt.datetime | None = None) -> GbcsMessage:
    """A CS06 for ``device`` from its supplier, signed by it: under the supplier's next DCC
    counter unless ``counter`` is given, MAC'd by the DCC's Access Control Broker unless
    ``mac`` is False, and signed with another supplier's key when ``signed`` is False, as a
    test needs it to be wrong."""
    signer = bench.supplier_of(device)
    key_holder = signer if signed else bench.other_supplier(signer)
    if counter is None:
        counter = bench.dcc.inventory.next_originator_counter(signer.id)
    command = activate_firmware_command(signer.id, device.id, ActivateFirmware(image_hash, counter, execution),
                                        bench.dcc.keystore.private_key(key_holder.id))
    return bench.dcc.acb.protect(command) if mac else command


def relabelled(image: UpgradeImage, **header: int) -> UpgradeImage:
    """``image`` with OTA header fields rewritten on the way; the signature (over the Manufacturer
    Image alone) still verifies."""
    return dataclasses.replace(image, header=dataclasses.replace(image.header, **header))
