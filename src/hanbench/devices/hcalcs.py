"""The emulated HCALCS (HAN Connected Auxiliary Load Control Switch).

Since SECMP0007 it takes firmware exactly as an ESME does: SR 11.1 distributes (Image
Notify, Supplier-signed image, DLMS receipt alert) and SR 11.3 activates (CS06). Only its
image profile and SE device ID differ; SR 11.2 reads it with CS08 rather than ECS52.
"""

from __future__ import annotations

from hanbench.devices.han_device import GbcsHanDevice
from hanbench.gbcs.alerts import ReceiptForm
from hanbench.gbcs.device_types import DeviceType
from hanbench.radio.se_profile import SeDeviceType


class Hcalcs(GbcsHanDevice):
    """An emulated HCALCS; build it with :func:`hanbench.devices.build_device`."""

    kind = DeviceType.HCALCS
    se_device_type = SeDeviceType.LOAD_CONTROL_DEVICE
    receipt_form = ReceiptForm.DLMS
