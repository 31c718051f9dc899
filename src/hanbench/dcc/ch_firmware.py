"""The DCC updates Comms Hub firmware itself: distribute, activate, record (GBCS CS05a).

No User sends an SR for a CH's firmware and no supplier activates it (``gbcs/roles.py``): the
DCC hands the image to the CH, has it switch, and the CH answers what it ran before and
runs now (:class:`~hanbench.dcc.hub_port.OwnActivation`). The inventory keeps the CH's
record as it keeps a meter's: ``distributed`` while the CH holds the image (its version
and hash in the detail: the pending-image record names a User, and the DCC is none), then
the running version and ``activated``; a refusal leaves the CH ``failed`` with the CH's
reason. A CH image is signed by the DCC's DS key (:func:`ch_image`; no public source names the signer, and the
bench's CH checks the signature: :mod:`hanbench.hub.own_firmware`).

How many CHs the DCC updates at once, and when, is the campaign's business
(:mod:`hanbench.dcc.campaign`); :meth:`ChFirmware.update` is one CH.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from hanbench.dcc.dcc import Dcc
from hanbench.dcc.hub_port import OwnImageRefused
from hanbench.dcc.records import UpdateState
from hanbench.errors import BadInput
from hanbench.gbcs.device_types import DeviceType
from hanbench.gbcs.emulated_firmware import build_emulated_image
from hanbench.gbcs.entity import EntityId
from hanbench.gbcs.image import UpgradeImage
from hanbench.gbcs.image_types import CH_PROFILE
from hanbench.gbcs.keystore import KeyStore, Usage


def ch_image(keystore: KeyStore, file_version: int, payload: bytes, *, signer: EntityId) -> UpgradeImage:
    """An image of emulated CH firmware at ``file_version``, signed with ``signer``'s DS key (the DCC's)."""
    return build_emulated_image(CH_PROFILE, file_version, payload, sign_key=keystore.private_key(signer, Usage.DS),
                                header_string="hanbench CH firmware")


class ChOutcome(enum.StrEnum):
    """How one CH's update ended."""

    ACTIVATED = "activated"      # the CH runs the image
    REFUSED = "refused"          # the CH did not take the image (its reason in the detail)
    NOT_ACTIVATED = "not_activated"  # the CH held it but would not switch


@dataclass(frozen=True)
class ChUpdate:
    """One CH's update as the CH reported it."""

    ch: EntityId
    outcome: ChOutcome
    detail: str
    at: datetime
    previous_version: int | None = None
    running_version: int | None = None
    waited_s: float = 0.0

    @property
    def succeeded(self) -> bool:
        return self.outcome is ChOutcome.ACTIVATED


class ChFirmware:
    """The DCC's CH firmware updates, through its hub port and into its inventory."""

    def __init__(self, dcc: Dcc) -> None:
        self.dcc = dcc

    async def update(self, ch: EntityId, image: UpgradeImage) -> ChUpdate:
        """Distribute ``image`` to ``ch`` and activate it there (the CH waits for its HAN
        transfers to end first); the inventory records each step."""
        inventory, hub = self.dcc.inventory, self.dcc.hub
        device = inventory.device(ch)
        if device.type is not DeviceType.CH:
            raise BadInput(f"{ch} is a {device.type.value}, not a Comms Hub")
        digest = image.manufacturer_image_hash
        try:
            await hub.distribute_own(ch, image)
        except OwnImageRefused as exc:
            inventory.set_update_state(ch, UpdateState.FAILED, f"the CH refused its image: {exc}")
            return ChUpdate(ch, ChOutcome.REFUSED, str(exc), self.dcc.clock())
        inventory.set_update_state(ch, UpdateState.DISTRIBUTED,
                                   f"the CH holds {image.header.file_version:08X} ({digest.hex()}) from the DCC")
        try:
            done = await hub.activate_own(ch, digest)
        except OwnImageRefused as exc:
            inventory.set_update_state(ch, UpdateState.FAILED, f"the CH did not activate its image: {exc}")
            return ChUpdate(ch, ChOutcome.NOT_ACTIVATED, str(exc), self.dcc.clock())
        detail = f"the CH runs {done.running_version:08X}" + (
            f" after waiting {done.waited_s:.0f} s for its HAN transfers" if done.waited_s else "")
        inventory.record_activation(ch, done.running_version, detail)
        return ChUpdate(ch, ChOutcome.ACTIVATED, detail, self.dcc.clock(), done.previous_version,
                        done.running_version, done.waited_s)
