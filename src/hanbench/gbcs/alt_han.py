"""MP170's two solution options for Alt HAN bridge firmware, as data: who the Supplier sees,
who fetches whose firmware, what is packaged together.

Seed 002 (MP170 working group, July 2022), quoted:

* "Alt HAN Devices will re-use the SECMP0007 functionality, by joining the Home Area network
  (HAN) as a Prepayment Meter Interface Device (PPMID) Variant" and "Each Alt HAN Device
  type (B1, B2, B3 & B4) will be identifiable on the Smart Meter Inventory (SMI)";
* **Option A**: "Bridge 4 is a 'sleepy Device' so could use Bridge 3 to orchestrate the
  firmware download to that Device. Suppliers would only see Bridges 1, 2 and 3 on the SMI,
  but every property with Bridge 3 will have a Bridge 4 installed. Bridges 1 and 2 will have
  their own firmware package, Bridges 3 and 4 will be packaged together";
* **Option B**: "Bridge 1 would be used to orchestrate the firmware download to all other Alt
  HAN Devices. Suppliers would only see Bridge 1 on the SMI and have no visibility of other
  Alt HAN Devices. Suppliers will need to package the firmware correctly, depending on the
  specific Alt HAN Devices that are on site"; and when one bridge updates and another fails,
  "the Supplier would only receive a failure response but would not be able to identify
  which Device failed".

What the bench decides where the seed stops: a premises has at most one bridge of each type;
under option A a Bridge 3 and a Bridge 4 come together or not at all, under option B any
bridge but Bridge 1 needs a Bridge 1; Bridge 4 is sleepy under both options (it is a sleepy
device, whoever orchestrates it). Nothing here does I/O: the bench file checks a premises
against it, the DCC's inventory holds what :meth:`AltHanOption.on_smi` allows, and the
emulated bridges orchestrate as :meth:`AltHanOption.orchestrator_of` says.
"""

from __future__ import annotations

import enum
from collections.abc import Collection

from hanbench.gbcs.device_types import PpmidVariant
from hanbench.gbcs.errors import GbcsError

B1, B2, B3, B4 = PpmidVariant.bridges()

SLEEPY_BRIDGES = frozenset({B4})
"""Bridge types that sleep ("Option A Bridge 4 is a 'sleepy Device'")."""


class AltHanOption(enum.StrEnum):
    """An MP170 solution option; the value is the bench file's spelling."""

    A = "A"
    B = "B"

    @classmethod
    def parse(cls, text: str) -> "AltHanOption":
        try:
            return cls(text.strip().upper())
        except ValueError:
            raise GbcsError(f"unknown Alt HAN option {text!r}; expected A or B (MP170)") from None

    def on_smi(self, bridge: PpmidVariant) -> bool:
        """Whether Suppliers see ``bridge`` on the Smart Meter Inventory under this option."""
        return bridge in (B1, B2, B3) if self is AltHanOption.A else bridge is B1

    def orchestrator_of(self, bridge: PpmidVariant) -> PpmidVariant | None:
        """The bridge that fetches ``bridge``'s firmware and serves it on; ``None`` for one the CH serves."""
        if self is AltHanOption.A:
            return B3 if bridge is B4 else None
        return None if bridge is B1 else B1

    def orchestrated_by(self, orchestrator: PpmidVariant, on_site: Collection[PpmidVariant]) -> tuple[PpmidVariant, ...]:
        """The bridges on site whose firmware ``orchestrator`` serves, in bridge order."""
        return tuple(b for b in PpmidVariant.bridges() if b in on_site and self.orchestrator_of(b) is orchestrator)

    def package_of(self, bridge: PpmidVariant, on_site: Collection[PpmidVariant]) -> tuple[PpmidVariant, ...]:
        """The bridge types whose firmware a Supplier packages for ``bridge`` (one it sees on the SMI):
        its own, then that of every bridge on site it orchestrates."""
        if not self.on_smi(bridge):
            raise GbcsError(f"Suppliers do not see {bridge} on the SMI under option {self}: it is updated through "
                            f"{self.orchestrator_of(bridge)}")
        return (bridge, *self.orchestrated_by(bridge, on_site))

    def check_site(self, on_site: Collection[PpmidVariant]) -> None:
        """Raise :class:`GbcsError` if the bridges ``on_site`` (one of each type at most) cannot be
        installed together under this option."""
        present = set(on_site)
        if self is AltHanOption.A and (B3 in present) != (B4 in present):
            have, lack = (B3, B4) if B3 in present else (B4, B3)
            raise GbcsError(f"under option A a Bridge 3 and a Bridge 4 are installed together: this premises "
                            f"has {have} and no {lack}")
        if self is AltHanOption.B and present - {B1} and B1 not in present:
            others = ", ".join(sorted(present))
            raise GbcsError(f"under option B Bridge 1 orchestrates every other bridge: this premises has {others} "
                            "and no B1")
