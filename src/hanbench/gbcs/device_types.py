"""The kinds of device on a GB smart-metering HAN, as the Smart Metering Inventory names them.

One enum for every layer: the bench file names devices by these values, the role matrix
scopes service requests by them, the CH picks image priority by them.
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
