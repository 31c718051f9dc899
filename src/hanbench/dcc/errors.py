"""Typed errors of the DCC side, each a plain sentence a lab engineer can act on."""

from __future__ import annotations

from hanbench.errors import BadInput, CheckFailed


class InventoryError(BadInput):
    """The inventory cannot take what it was given (duplicate ID, dangling reference, bad file)."""


class PpmidVariantMismatch(InventoryError):
    """A device's PPMID variant does not fit its type: the inventory database refused it
    (``schema.sql``, constraint ``ppmid_variant_fits_type``)."""


class UnknownUser(InventoryError):
    """An entity ID that is not a DCC User of this bench."""


class UnknownDevice(InventoryError):
    """An entity ID that is not in the Smart Metering Inventory."""


class InboxTimeout(CheckFailed):
    """A script waited for an inbox message that did not arrive in time."""
