"""Shared pieces for the DCC tests: the people and premises of a seeded inventory, signed
images, an in-memory CH (:class:`FakeHub`) and emulated device answers built with the real
GBCS codecs.

A module of its own, not ``conftest.py``: test modules import these names, and a module
called ``conftest`` would clash with the other test folders' conftest files when pytest
collects them in one run. The fixtures built from them live in this folder's conftest."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta, timezone

from cryptography.hazmat.primitives.asymmetric import ec

from fixture_files import BENCH_KEYS, SUPPLIER, built_image
from hanbench.dcc.dcc import Dcc
from hanbench.dcc.inventory import Inventory
from hanbench.dcc.service_requests import UpdateFirmware
from hanbench.gbcs import alerts, cs06, firmware_version
from hanbench.gbcs.codes import AlertCode
from hanbench.gbcs.device_types import DeviceType
from hanbench.gbcs.entity import EntityId
from hanbench.dcc.hub_port import AlertListener, ForwardedAlert, NoticeReceipt, OccupancyChange
from hanbench.gbcs.frame import GbcsMessage, encode_message, sign_message
from hanbench.gbcs.image import UpgradeImage
from hanbench.gbcs.keystore import KeyStore
from hanbench.gbcs.protection import protect_from_store

KEYS = BENCH_KEYS
START = datetime(2030, 1, 15, 9, 0, tzinfo=timezone.utc)

SUPPLIER_A = SUPPLIER
SUPPLIER_B = EntityId.parse("90-B3-D5-1F-30-02-00-00")
RSA_1 = EntityId.parse("90-B3-D5-1F-30-0A-00-01")   # appointed by Supplier A
RSA_2 = EntityId.parse("90-B3-D5-1F-30-0A-00-02")   # appointed by Supplier B
OTHER = EntityId.parse("90-B3-D5-1F-30-0F-00-01")

CH = EntityId.parse("00-DB-12-34-56-78-91-02")
ESME = EntityId.parse("00-DB-12-34-56-78-91-00")
GSME = EntityId.parse("00-DB-12-34-56-78-91-01")
PPMID = EntityId.parse("00-DB-12-34-56-78-91-04")
HCALCS = EntityId.parse("00-DB-12-34-56-78-91-05")
IHD = EntityId.parse("00-DB-12-34-56-78-91-06")
ESME_B = EntityId.parse("00-DB-12-34-56-78-92-00")  # Supplier B's meter (no key in the key store)

V1, V2 = 0x00000001, 0x00000002


def seed(inv: Inventory) -> Inventory:
    """The default bench's people and premises, plus one ESME of Supplier B."""
    inv.add_user(SUPPLIER_A, "Supplier A", ["import_supplier", "gas_supplier"])
    inv.add_user(SUPPLIER_B, "Supplier B", ["import_supplier", "gas_supplier"])
    inv.add_user(RSA_1, "RSA 1", ["rsa"])
    inv.add_user(RSA_2, "RSA 2", ["rsa"])
    inv.add_user(OTHER, "Other User", ["other_user"])
    inv.appoint(SUPPLIER_A, RSA_1)
    inv.appoint(SUPPLIER_B, RSA_2)
    inv.add_device(CH, "ch", import_supplier=SUPPLIER_A, firmware_version=V1)
    for dev, kind in ((ESME, "esme"), (PPMID, "ppmid"), (HCALCS, "hcalcs"), (IHD, "ihd")):
        inv.add_device(dev, kind, ch=CH, import_supplier=SUPPLIER_A, firmware_version=V1)
    inv.add_device(GSME, "gsme", ch=CH, gas_supplier=SUPPLIER_A, firmware_version=V1)
    inv.add_device(ESME_B, "esme", import_supplier=SUPPLIER_B, firmware_version=V1)
    return inv


def signed_image(keystore: KeyStore, signer: EntityId, version: int = V2, payload: bytes = b"firmware",
                 device_type: DeviceType | str = DeviceType.ESME) -> bytes:
    """An image for ``device_type`` (an ESME's by default), as an SR 11.1 carries it, signed
    with ``signer``'s DS key."""
    return built_image(device_type, version, sign_key=keystore.private_key(signer), hardware_range=False,
                       body=payload + version.to_bytes(4, "big")).to_bytes()


async def distribute(dcc: Dcc, user: EntityId, keystore: KeyStore, devices: Sequence[EntityId],
                     signer: EntityId = SUPPLIER_A) -> None:
    """SR 11.1 from ``user`` of ``signer``'s image to ``devices``, one SR per device type: an SR
    carries one image, and an image is for one device type."""
    kinds: dict[str, list[EntityId]] = {}
    for device in devices:
        kinds.setdefault(dcc.inventory.device(device).type.value, []).append(device)
    for kind, group in kinds.items():
        await dcc.submit(user, UpdateFirmware(signed_image(keystore, signer, device_type=kind), group))


def unsigned_image(version: int = V2) -> bytes:
    """A PPMID image, as an SR 11.4 carries it: PPMID images are not signed."""
    return built_image(DeviceType.PPMID, version, body=b"ppmid firmware", hardware_range=False).to_bytes()


Responder = Callable[[EntityId, GbcsMessage], Awaitable[GbcsMessage]]


class FakeHub:
    """An in-memory CH: records what the DCC hands it and answers with what tests tell it to."""

    def __init__(self) -> None:
        self.distributed: list[tuple[UpgradeImage, tuple[EntityId, ...]]] = []
        self.commands: list[GbcsMessage] = []
        self.listeners: list[AlertListener] = []
        self.responder: Responder | None = None
        self.fail_distribute: Exception | None = None
        #: Whether the CH stores what it is given: False plays a CH whose image rules discard the image at once.
        self.stores = True
        #: Every change of tenancy or supplier the DCC had the CH announce, and the displays that take it.
        self.occupancy_changes: list[tuple[EntityId, OccupancyChange]] = []
        self.displays: dict[EntityId, bool] = {IHD: True, PPMID: True}
        self.fail_notice: Exception | None = None

    async def distribute(self, image: UpgradeImage, targets: Sequence[EntityId]) -> tuple[EntityId, ...]:
        if self.fail_distribute is not None:
            raise self.fail_distribute
        self.distributed.append((image, tuple(targets)))
        return tuple(targets) if self.stores else ()

    async def send_command(self, command: GbcsMessage) -> GbcsMessage:
        self.commands.append(command)
        assert self.responder is not None, "the test sent a command without telling the fake CH how to answer"
        return await self.responder(command.target, command)

    async def publish_occupancy_change(self, device: EntityId, change: OccupancyChange) -> tuple[NoticeReceipt, ...]:
        if self.fail_notice is not None:
            raise self.fail_notice
        self.occupancy_changes.append((device, change))
        return tuple(NoticeReceipt(d, took, "told" if took else "not delivered: no answer")
                     for d, took in self.displays.items())

    def on_alert(self, listener: AlertListener) -> Callable[[], None]:
        self.listeners.append(listener)
        return lambda: self.listeners.remove(listener)

    def alert(self, message: GbcsMessage) -> None:
        """Forward ``message`` as the CH does: its bytes, and what the CH read of them."""
        self.forward(ForwardedAlert(encode_message(message), message))

    def forward(self, alert: ForwardedAlert) -> None:
        for listener in self.listeners:
            listener(alert)


def loop_clock() -> datetime:
    """Bench time: START plus the event loop's (virtual, under looptime) seconds."""
    return START + timedelta(seconds=asyncio.get_running_loop().time())


# ---- emulated device behaviour, with the real codecs -------------------------------------------

def device_key(keystore: KeyStore, device: EntityId) -> ec.EllipticCurvePrivateKey:
    if keystore.has_private_key(device):
        return keystore.private_key(device)
    return _spare_key()


_SPARE: list[ec.EllipticCurvePrivateKey] = []


def _spare_key() -> ec.EllipticCurvePrivateKey:
    """A key for devices the key store does not know (their signatures cannot be checked)."""
    if not _SPARE:
        _SPARE.append(ec.generate_private_key(ec.SECP256R1()))
    return _SPARE[0]


def activation_responder(keystore: KeyStore, *, result: cs06.ActivationResult = cs06.ActivationResult.SUCCESS,
                         version: int = V2, delay: float = 0.0) -> Responder:
    """A device that answers CS06 with ``result`` (NULL when future-dated) after ``delay`` seconds."""

    async def respond(target: EntityId, msg: GbcsMessage) -> GbcsMessage:
        await asyncio.sleep(delay)
        command = cs06.read_activate_firmware(msg)
        answer: cs06.ActivateFirmwareResponse
        if command.execution_datetime is not None:
            answer = cs06.Accepted()
        else:
            answer = cs06.ExecutionOutcome(result, version.to_bytes(4, "big"))
        return cs06.activate_firmware_response(msg, answer, device_key(keystore, target), date_time=START)
    return respond


def version_responder(version: int) -> Responder:
    """A device that answers SR 11.2 reads with ``version``, in its type's use case."""

    async def respond(target: EntityId, msg: GbcsMessage) -> GbcsMessage:
        request = firmware_version.decode_firmware_version(msg)
        raw = version.to_bytes(4, "big")
        answer: firmware_version.FirmwareVersionResponse
        if isinstance(request, firmware_version.EsmeFirmwareVersionRequest):
            answer = firmware_version.EsmeFirmwareVersionResponse(raw)
        elif isinstance(request, firmware_version.GsmeFirmwareVersionRequest):
            answer = firmware_version.GsmeFirmwareVersionResponse(raw)
        else:
            answer = firmware_version.PpmidFirmwareVersionResponse(raw)
        return device_macd(firmware_version.firmware_version_response(msg, answer, date_time=START))
    return respond


_DEVICE_INVOCATIONS = itertools.count(1)


def device_macd(msg: GbcsMessage) -> GbcsMessage:
    """A device's non-critical response or alert MAC'd by the device for its target, as a GBCS
    device sends it (the bench key store holds every bench device's KA key)."""
    return protect_from_store(msg, next(_DEVICE_INVOCATIONS), KeyStore(KEYS))


def receipt_alert(keystore: KeyStore, device: EntityId, recipient: EntityId, digest: bytes, *,
                  ok: bool = True, counter: int = 1) -> GbcsMessage:
    code = AlertCode.FIRMWARE_VERIFICATION_SUCCESSFUL if ok else AlertCode.FIRMWARE_VERIFICATION_FAILED
    return alerts.alert_message(device, recipient, counter, alerts.FirmwareReceiptAlert(code, START, digest),
                                device_key(keystore, device))


def transfer_alert(keystore: KeyStore, device: EntityId, result: alerts.TransferResult,
                   counter: int = 1) -> GbcsMessage:
    record = alerts.FirmwareTransferAlert(START, device, V2.to_bytes(4, "big"), result)
    return alerts.alert_message(CH, EntityId.parse("90-B3-D5-1F-30-00-00-02"), counter, record,
                                keystore.private_key(CH))


def resign(msg: GbcsMessage, key: ec.EllipticCurvePrivateKey) -> GbcsMessage:
    return sign_message(msg, key)
