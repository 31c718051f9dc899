"""The twin NCP's radio: the coordinator node (NWK 0x0000) on the bench's virtual air.

It is the one place that knows both sides: the air's node protocol (`nwk`, `ieee`, `awake`,
`rx_on_when_idle`, `receive`) and join callbacks on one side, the NCP's `AirLink` on the other.
"""

from __future__ import annotations

from collections.abc import Callable

import zigpy.types as zt

from hanbench.radio.air import VirtualAir
from hanbench.twin.ezsp_ncp import COORDINATOR_NWK, EzspNcp


class CoordinatorRadio:
    """Puts an `EzspNcp` on a `VirtualAir` as the network's coordinator and trust centre."""

    def __init__(self, air: VirtualAir, ncp: EzspNcp, *, chip_running: Callable[[], bool]) -> None:
        self._air = air
        self._ncp = ncp
        self._chip_running = chip_running
        self._remove_join_handler: Callable[[], None] | None = None

    @property
    def nwk(self) -> zt.NWK:
        """The coordinator's address, fixed by Zigbee."""
        return zt.NWK(COORDINATOR_NWK)

    @property
    def ieee(self) -> zt.EUI64:
        """The NCP's EUI64."""
        return zt.EUI64(self._ncp.eui64)

    @property
    def awake(self) -> bool:
        """A coordinator hears the air only while its chip runs a network."""
        return self._ncp.network_up and self._chip_running()

    @property
    def rx_on_when_idle(self) -> bool:
        """A coordinator never sleeps."""
        return True

    def receive(self, packet: zt.ZigbeePacket) -> None:
        """A frame for the coordinator: the NCP passes it to the host."""
        self._ncp.packet_from_air(packet)

    async def transmit(self, packet: zt.ZigbeePacket) -> None:
        """The NCP sends: put the frame on the air (raises `DeliveryError`)."""
        await self._air.transmit(packet)

    def permit_joining(self, duration_s: float) -> None:
        """The host opened or closed the network."""
        self._air.permit_joining(duration_s)

    def attach(self) -> None:
        """Go on the air and become the network's trust centre."""
        self._air.attach(self)
        self._ncp.air = self
        self._remove_join_handler = self._air.add_join_handler(self._joined)

    def detach(self) -> None:
        """Leave the air (the stick is put away)."""
        if self._remove_join_handler is not None:
            self._remove_join_handler()
            self._remove_join_handler = None
        self._ncp.air = None
        self._air.detach(self)

    def _joined(self, nwk: zt.NWK, ieee: zt.EUI64, parent_nwk: zt.NWK) -> None:
        self._ncp.device_joined(nwk, ieee, parent_nwk)
