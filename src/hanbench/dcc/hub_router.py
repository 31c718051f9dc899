"""The DCC's one :class:`~hanbench.dcc.hub_port.HubPort` over the many CHs of an estate.

A real DCC reaches each premises' Comms Hub over the SM WAN and addresses a command to a
device through the CH the device hangs off. :class:`HubRouter` is that fan-out, so the DCC
stays what it is for one premises: it hands an image for some devices to "the CH", sends a
command to one device and hears every alert, and the router splits an image's targets by
CH, sends each command through its target's CH (or to the CH itself when the CH is the
target), and forwards every CH's alerts to the DCC's listeners.

Which device hangs off which CH is what the premises were built with (:meth:`HubRouter.add`),
the same wiring the inventory records (``Device.ch``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Sequence

from hanbench.dcc.hub_port import (
    AlertListener, CommandNotDelivered, ForwardedAlert, HubPort, NoticeReceipt, OccupancyChange, OwnActivation,
)
from hanbench.errors import BadInput
from hanbench.gbcs.entity import EntityId
from hanbench.gbcs.frame import GbcsMessage
from hanbench.gbcs.image import UpgradeImage
from hanbench.listeners import Listeners


class NoSuchHub(BadInput):
    """A target that hangs off none of the router's CHs."""


class HubRouter:
    """A :class:`HubPort` over many CHs, each reached for the devices it serves."""

    def __init__(self) -> None:
        self._hubs: dict[EntityId, HubPort] = {}
        self._ch_of: dict[EntityId, EntityId] = {}
        self._alert_listeners: Listeners[AlertListener] = Listeners()

    def add(self, ch: EntityId, hub: HubPort, devices: Iterable[EntityId]) -> None:
        """Reach ``hub`` (the CH ``ch``) for itself and for ``devices``."""
        self._hubs[ch] = hub
        self._ch_of[ch] = ch
        self._ch_of.update(dict.fromkeys(devices, ch))
        hub.on_alert(self._forward)

    @property
    def hubs(self) -> dict[EntityId, HubPort]:
        """Every CH, by its entity ID."""
        return dict(self._hubs)

    def hub_for(self, target: EntityId) -> HubPort:
        """The CH that reaches ``target`` (a device, or a CH itself)."""
        ch = self._ch_of.get(target)
        if ch is None:
            raise NoSuchHub(f"{target} hangs off none of the estate's {len(self._hubs)} CHs")
        return self._hubs[ch]

    async def distribute(self, image: UpgradeImage, targets: Sequence[EntityId]) -> tuple[EntityId, ...]:
        """Hand ``image`` to each CH for its own targets, all CHs at once; every target any CH stored it for."""
        by_hub: dict[EntityId, list[EntityId]] = {}
        for target in targets:
            self.hub_for(target)
            by_hub.setdefault(self._ch_of[target], []).append(target)
        stored = await asyncio.gather(*(self._hubs[ch].distribute(image, devices) for ch, devices in by_hub.items()))
        return tuple(target for kept in stored for target in kept)

    async def distribute_own(self, ch: EntityId, image: UpgradeImage) -> None:
        await self.hub_for(ch).distribute_own(ch, image)

    async def activate_own(self, ch: EntityId, image_hash: bytes) -> OwnActivation:
        return await self.hub_for(ch).activate_own(ch, image_hash)

    async def send_command(self, command: GbcsMessage) -> GbcsMessage:
        """``command`` through the CH its target hangs off."""
        try:
            hub = self.hub_for(command.target)
        except NoSuchHub as exc:
            raise CommandNotDelivered(command.target, str(exc)) from None
        return await hub.send_command(command)

    async def publish_occupancy_change(self, device: EntityId, change: OccupancyChange) -> Sequence[NoticeReceipt]:
        """``change`` told by the CH ``device`` hangs off, to its displays only."""
        return await self.hub_for(device).publish_occupancy_change(device, change)

    def on_alert(self, listener: AlertListener) -> Callable[[], None]:
        """Call ``listener`` with every alert any CH forwards; returns a remover."""
        return self._alert_listeners.add(listener)

    def _forward(self, alert: ForwardedAlert) -> None:
        self._alert_listeners(alert)
