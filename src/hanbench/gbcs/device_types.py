"""The kinds of device on a GB smart-metering HAN, as the Smart Metering Inventory names them.

One enum for every layer: the bench file names devices by these values, the role matrix
scopes service requests by them, the CH picks image priority by them. :class:`PpmidVariant`
is the inventory's *PPMIDVariant* field, which MP170 uses to tell the Alt HAN bridge types
apart (seed 002: "Alt HAN Devices will re-use the SECMP0007 functionality, by joining the
HAN as a PPMID Variant"; "Each Alt HAN Device type (B1, B2, B3 & B4) will be identifiable on
the SMI").
"""

from __future__ import annotations

import enum

from hanbench.gbcs.errors import GbcsError


class DeviceType(enum.StrEnum):
    """A HAN device type; the value is the spelling used in bench files and reports."""

    CH = "ch"          # Communications Hub (CHF + GPF)
    ESME = "esme"      # Electricity Smart Metering Equipment
    GSME = "gsme"      # Gas Smart Metering Equipment (sleepy, battery powered)
    HCALCS = "hcalcs"  # HAN Connected Auxiliary Load Control Switch
    PPMID = "ppmid"    # Prepayment Meter Interface Device
    IHD = "ihd"        # In-Home Display (Zigbee OTA only)
    ALT_HAN = "alt_han"  # Alt HAN bridge joined as a PPMID variant (MP170, B1-B4)

    @classmethod
    def parse(cls, text: str) -> "DeviceType":
        try:
            return cls(text.strip().lower())
        except ValueError:
            names = ", ".join(m.value for m in cls)
            raise GbcsError(f"unknown device type {text!r}; expected one of {names}") from None


class PpmidVariant(enum.StrEnum):
    """The inventory's PPMIDVariant: a PPMID proper, or the Alt HAN bridge type joined as one.

    A bridge is a :attr:`DeviceType.ALT_HAN`; the value is the spelling in bench files,
    the inventory and reports.
    """

    PPMID = "PPMID"
    B1 = "B1"
    B2 = "B2"
    B3 = "B3"
    B4 = "B4"

    @property
    def device_type(self) -> DeviceType:
        """The device type a device of this variant is: PPMID, or Alt HAN for a bridge."""
        return DeviceType.PPMID if self is PpmidVariant.PPMID else DeviceType.ALT_HAN

    @property
    def code(self) -> int:
        """A bridge's number (1 for B1 ... 4 for B4); 0 for a PPMID proper."""
        return 0 if self is PpmidVariant.PPMID else int(self.value[1])

    @classmethod
    def parse(cls, text: str) -> "PpmidVariant":
        try:
            return cls(text.strip().upper())
        except ValueError:
            names = ", ".join(m.value for m in cls)
            raise GbcsError(f"unknown PPMID variant {text!r}; expected one of {names}") from None

    @classmethod
    def bridges(cls) -> tuple["PpmidVariant", ...]:
        """B1 to B4, in order."""
        return tuple(v for v in cls if v is not cls.PPMID)


PPMID_FAMILY = frozenset({DeviceType.PPMID, DeviceType.ALT_HAN})
"""The device types that carry a PPMID variant."""
