"""The CH's own firmware: what it runs, the image the DCC gave it, and when it may switch.

CH firmware is not a User's business (SR 11.1 does not reach a CH, GBCS CS05a is the DCC's
own use case, and SECMP0024 has the DCC run the campaign): the image reaches the CH over the
WAN, never over the HAN, so it takes no slot of the image store and no part of the OTA
server. The CH checks what it is given as a device checks its own image (the bench's choice
of signer, as no public source names one: the DCC, with its DS key) and keeps one image at
a time; a newer one replaces it.

**A CH image does not disturb a meter transfer in progress.** Activating new firmware
restarts the CH, and with it the HAN: every transfer it is serving would be cut. So the CH
takes an activation at once only when no transfer is in progress; otherwise it waits until
the last one has ended (finished or abandoned) and only then switches. A transfer that
starts while it waits is served as usual (a device asking for its image is not refused), so
the CH switches at the first moment it serves none. An image received meanwhile leaves every
HAN image and transfer as it was.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import ec

from hanbench.gbcs.device_types import DeviceType
from hanbench.gbcs.emulated_firmware import read_emulated_firmware
from hanbench.gbcs.errors import GbcsError
from hanbench.gbcs.image import UpgradeImage
from hanbench.gbcs.image_types import CH_PROFILE


class OwnImageRefused(GbcsError):
    """The CH refused an image for itself (the reason says which check failed)."""


@dataclass(frozen=True)
class OwnActivation:
    """What came of activating the CH's held image: the version it ran before and runs now,
    and how long it waited for HAN transfers to end first."""

    previous_version: int
    running_version: int
    waited_s: float


class OwnFirmware:
    """The CH's firmware state; see the module docstring.

    ``busy`` says whether the CH serves a HAN transfer now, and ``transfers_idle`` returns
    once it serves none (both from the OTA server); ``clock`` gives the bench time.
    """

    def __init__(self, running_version: int, hardware_version: int, signer: ec.EllipticCurvePublicKey,
                 busy: Callable[[], bool], transfers_idle: Callable[[], asyncio.Future[None]],
                 clock: Callable[[], dt.datetime]) -> None:
        self.running_version = running_version
        self.hardware_version = hardware_version
        self._signer = signer
        self._busy = busy
        self._transfers_idle = transfers_idle
        self._clock = clock
        #: The image the DCC gave the CH and it has not activated yet.
        self.held: UpgradeImage | None = None

    def receive(self, image: UpgradeImage) -> None:
        """Check ``image`` and hold it; :class:`OwnImageRefused` says why one is not taken."""
        header = image.header
        if not header.is_for(CH_PROFILE.manufacturer_code, CH_PROFILE.image_type):
            raise OwnImageRefused(f"not a CH image: manufacturer {header.manufacturer_code:04X}, "
                                  f"image type {header.image_type:04X}")
        if not header.accepts_hardware_version(self.hardware_version):
            raise OwnImageRefused(f"the image is not for hardware version {self.hardware_version:04X}")
        if not image.is_signed or not image.verify(self._signer):
            raise OwnImageRefused("the image's signature does not verify with the DCC's key")
        try:
            facts = read_emulated_firmware(image.manufacturer_image)
        except GbcsError as exc:
            raise OwnImageRefused(f"the firmware inside does not read: {exc}") from None
        if facts is None or facts.device_type is not DeviceType.CH or facts.firmware_version != header.file_version:
            raise OwnImageRefused("the signed facts disagree with the OTA header")
        if header.file_version <= self.running_version:
            raise OwnImageRefused(f"version {header.file_version:08X} is not newer than the running "
                                  f"{self.running_version:08X}")
        self.held = image

    async def activate(self, image_hash: bytes) -> OwnActivation:
        """Switch to the held image whose Manufacturer Image Hash is ``image_hash``, once no HAN
        transfer is in progress (see the module docstring)."""
        held = self.held
        if held is None:
            raise OwnImageRefused("no image held to activate")
        if held.manufacturer_image_hash != image_hash:
            raise OwnImageRefused(f"the held image's hash is {held.manufacturer_image_hash.hex()}, "
                                  f"not {image_hash.hex()}")
        began = self._clock()
        while self._busy():
            await self._transfers_idle()
        if self.held is not held:
            raise OwnImageRefused("a newer image replaced the held one while the CH waited")
        previous, self.running_version, self.held = self.running_version, held.header.file_version, None
        return OwnActivation(previous, self.running_version, (self._clock() - began).total_seconds())
