"""The emulated ESME (electricity meter): a mains-powered router that is always listening.

It reacts to the CH's Image Notify at once, checks the image against its Supplier, raises
the receipt alert in the DLMS form (message 0x00CE), and activates only by CS06. Everything
GBCS is the shared :class:`~hanbench.devices.han_device.GbcsHanDevice`; what makes it an
ESME is its device type, its SE device ID and that it never sleeps.
"""

from __future__ import annotations

from hanbench.devices.han_device import GbcsHanDevice
from hanbench.gbcs.alerts import ReceiptForm
from hanbench.gbcs.device_types import DeviceType
from hanbench.radio.se_profile import SeDeviceType


class Esme(GbcsHanDevice):
    """An emulated ESME; build it with :func:`hanbench.devices.build_device`."""

    kind = DeviceType.ESME
    se_device_type = SeDeviceType.METERING_DEVICE
    receipt_form = ReceiptForm.DLMS
