"""A board's supply on a network power switch, switched by labgrid's power drivers.

labgrid drives some thirty PDUs and smart sockets (Gude, NETIO, APC, Raritan, Shelly,
Tasmota, TP-Link, a plain REST switch ...) through one driver, ``NetworkPowerDriver``, that
reads a ``NetworkPowerPort`` resource: ``model`` (the back-end), ``host`` and ``index`` (the
outlet). hanbench builds exactly that pair in a labgrid ``Target`` of its own and calls the
driver, rather than speaking to each PDU itself: ``power = { driver = "labgrid", model =
"gude", host = "pdu-1", index = 3 }`` in a bench file, or, on a labgrid place, the place's
``NetworkPowerPort`` named as the device (:mod:`hanbench.bench.lab_place`). labgrid's calls
block, so they run in a thread. labgrid is optional: it is imported when a switch is first
used.
"""

from __future__ import annotations

import asyncio
from typing import Any

from hanbench.hardware.labgrid_place import LabgridMissing
from hanbench.hardware.power import PowerDriver, PowerFault


class LabgridPower(PowerDriver):
    """Outlet ``index`` of the ``model`` switch at ``host``, through labgrid's NetworkPowerDriver."""

    def __init__(self, name: str, model: str, host: str, index: int) -> None:
        super().__init__(name)
        self.model = model
        self.host = host
        self.index = index
        self._driver: Any = None

    async def on(self) -> None:
        await asyncio.to_thread(self._switch, "on")

    async def off(self) -> None:
        await asyncio.to_thread(self._switch, "off")

    def _switch(self, action: str) -> None:
        driver = self._labgrid_driver()
        try:
            getattr(driver, action)()
        except Exception as exc:  # labgrid's back-ends raise what their client library raises
            raise PowerFault(f"power of '{self.name}': labgrid's {self.model} switch at {self.host}, outlet "
                             f"{self.index}, did not switch {action}: {type(exc).__name__}: {exc}") from exc

    def _labgrid_driver(self) -> Any:
        if self._driver is None:
            try:
                from labgrid import Target
                from labgrid.driver import NetworkPowerDriver
                from labgrid.resource import NetworkPowerPort
            except ImportError as exc:
                raise LabgridMissing(f"power of '{self.name}' is switched by labgrid, which is not installed "
                                     f"({exc}); install it with: pip install 'hanbench[labgrid]'") from None
            target = Target(f"hanbench-{self.name}")
            NetworkPowerPort(target, "power", model=self.model, host=self.host, index=str(self.index))
            driver = NetworkPowerDriver(target, "power")
            target.activate(driver)
            self._driver = driver
        return self._driver
