"""Emulated HAN devices: the firmware behaviour of ESME, GSME, HCALCS, PPMID, IHD and Alt HAN bridges.

:func:`build_device` is the one way the bench (and tests) make a device of a given type;
each type lives in its own module (``esme.py``, ``gsme.py``, ...), built from the shared
shell in :mod:`hanbench.devices.han_device` and the GBCS behaviour in
:mod:`hanbench.devices.gbcs_device`.
"""

from __future__ import annotations

from hanbench.clock import BenchClock
from hanbench.devices.alt_han import BridgeLink, BridgeTiming, build_bridge
from hanbench.devices.esme import Esme
from hanbench.devices.gbcs_device import DeviceKeys
from hanbench.devices.han_device import DeviceSettings, GbcsHanDevice, HanDevice
from hanbench.devices.gsme import Gsme, GsmeTiming
from hanbench.devices.hcalcs import Hcalcs
from hanbench.devices.ihd import Ihd
from hanbench.devices.ppmid import Ppmid
from hanbench.errors import BadInput
from hanbench.gbcs.device_types import DeviceType
from hanbench.gbcs.keystore import KeyStore, Usage
from hanbench.radio.air import VirtualAir

__all__ = ["DEVICE_CLASSES", "BridgeLink", "BridgeTiming", "DeviceSettings", "GsmeTiming", "HanDevice", "build_device"]

DEVICE_CLASSES: dict[DeviceType, type[HanDevice]] = {
    DeviceType.ESME: Esme,
    DeviceType.GSME: Gsme,
    DeviceType.HCALCS: Hcalcs,
    DeviceType.PPMID: Ppmid,
    DeviceType.IHD: Ihd,
}
"""The device types with one class each; an Alt HAN bridge's class depends on where it sits
(:func:`hanbench.devices.alt_han.build_bridge`)."""


def build_device(
    kind: DeviceType,
    air: VirtualAir,
    settings: DeviceSettings,
    clock: BenchClock,
    keystore: KeyStore,
    *,
    gsme_timing: GsmeTiming | None = None,
    bridge: BridgeLink | None = None,
) -> HanDevice:
    """An emulated device of ``kind`` on ``air``, not yet joined (call ``await device.start()``).

    Its keys come from ``keystore``: its own DS key (not for an IHD, which has none) and its
    Supplier's DS certificate as its trust anchor. ``gsme_timing`` sets a GSME's wake cycle;
    ``bridge`` says where an Alt HAN bridge sits (required for one).
    """
    if kind is DeviceType.ALT_HAN:
        if bridge is None:
            raise BadInput(f"{settings.entity_id} is an Alt HAN bridge: say where it sits (its BridgeLink)")
        on_han = bridge.orchestrator_nwk is None
        keys = DeviceKeys.from_keystore(keystore, settings.entity_id, settings.supplier) if on_han else None
        return build_bridge(air, settings, clock, keys, bridge)
    cls = DEVICE_CLASSES.get(kind)
    if cls is None:
        known = ", ".join([*(k.value for k in DEVICE_CLASSES), DeviceType.ALT_HAN.value])
        raise BadInput(f"the bench cannot emulate a {kind.value}; it emulates {known}")
    if cls is Ihd:
        return Ihd(air, settings, clock, keystore.public_key(settings.supplier, Usage.DS))
    keys = DeviceKeys.from_keystore(keystore, settings.entity_id, settings.supplier)
    if cls is Gsme:
        return Gsme(air, settings, clock, keys, timing=gsme_timing)
    assert issubclass(cls, GbcsHanDevice)
    return cls(air, settings, clock, keys)
