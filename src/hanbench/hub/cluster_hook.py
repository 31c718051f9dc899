"""How the CH's servers hook into the devices of a zigpy application.

The CH's OTA, Tunneling and mirror servers each answer requests that HAN devices send to
the coordinator, and each has to see every device the application knows now and learns
of later. :class:`DeviceHooks` is that one mechanism: it is a zigpy application listener
that hooks each device (``device_joined`` and ``device_initialized``; the second call for
a device is a no-op unless the first one found nothing to hook, e.g. endpoints not yet
interviewed), and unhooks it on ``device_removed`` or :meth:`DeviceHooks.uninstall`.
The coordinator's own device is never hooked: it sends nothing to itself.

:func:`request_route` is the hook of a server whose requests are the bulk of the traffic (the
OTA server: four frames per image block): the device reads them from the raw frame and hands
them to the server where zigpy would run its request listeners
(:meth:`hanbench.radio.se_profile.SmartEnergyDevice.route_requests`, which says what it keeps of
zigpy's pipeline). :func:`request_listeners` is the usual hook: ``app.register_callback_listener(src=device,
...)`` for a set of command schemas, the mechanism zigpy's own ``OTAManager`` uses.
zigpy 2.4's ``Device.packet_received`` runs these listeners (as tasks, for coroutine
callbacks) before it hands the frame to the cluster handler, and only for frames from that
device. ``tests/unit/hub/test_cluster_hook.py`` pins that behaviour, so a zigpy upgrade that
changes it fails a test.

A server that must also make zigpy stand aside for a hooked device passes ``claim``: it is
called with ``True`` each time the device joins or is initialised and with ``False`` when
the hooks are uninstalled while the device is still on the network (the OTA server sets
``Device.ota_in_progress`` this way).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping
from typing import Any

import zigpy.types as t
from zigpy.application import ControllerApplication
from zigpy.device import Device
from zigpy.zcl import foundation

from hanbench.errors import BadInput
from hanbench.radio.se_profile import RequestRoute, SmartEnergyDevice

Unhook = Callable[[], None]
"""Undoes one hook on one device."""
Hook = Callable[[ControllerApplication, Device], list[Unhook]]
"""Hooks one device of an application; returns how to undo each hook (empty: nothing to hook yet)."""
RequestHandler = Callable[[Device, foundation.ZCLHeader, Any], Coroutine[Any, Any, None]]
"""Answers one request: the device it came from, its ZCL header (for the TSN) and its command."""


class DeviceHooks:
    """Hooks every device of one zigpy application, now and as devices join; see the module docstring.

    ``owner`` names the server in error messages. ``on_removed`` is told of each device
    that leaves the network, after its hooks are undone.
    """

    def __init__(
        self,
        owner: str,
        hook: Hook,
        *,
        claim: Callable[[Device, bool], None] | None = None,
        on_removed: Callable[[Device], None] | None = None,
    ) -> None:
        self._owner = owner
        self._hook = hook
        self._claim = claim
        self._on_removed = on_removed
        self._app: ControllerApplication | None = None
        self._unhooks: dict[t.EUI64, list[Unhook]] = {}

    @property
    def app(self) -> ControllerApplication:
        """The application the hooks are installed on; :class:`BadInput` if none."""
        if self._app is None:
            raise BadInput(f"the {self._owner} is not installed on an application")
        return self._app

    @property
    def installed(self) -> bool:
        return self._app is not None

    def install(self, app: ControllerApplication) -> None:
        """Hook every device ``app`` knows, and from now on every device that joins it."""
        if self._app is not None:
            raise BadInput(f"this {self._owner} is already installed on an application")
        self._app = app
        app.add_listener(self)
        for device in list(app.devices.values()):
            self.device_joined(device)

    def uninstall(self) -> None:
        """Undo every hook and release every claimed device still on the network."""
        if self._app is None:
            return
        for ieee, unhooks in self._unhooks.items():
            for unhook in unhooks:
                unhook()
            device = self._app.devices.get(ieee)
            if device is not None and self._claim is not None:
                self._claim(device, False)
        self._unhooks.clear()
        self._app.remove_listener(self)
        self._app = None

    # zigpy application listener events (called by ``app.listener_event``).

    def device_joined(self, device: Device) -> None:
        """Claim and hook ``device`` (idempotent: zigpy also calls this on initialisation)."""
        app = self.app
        if device.ieee == app.state.node_info.ieee:
            return
        if self._claim is not None:
            self._claim(device, True)
        if device.ieee in self._unhooks:
            return
        unhooks = self._hook(app, device)
        if unhooks:
            self._unhooks[device.ieee] = unhooks

    device_initialized = device_joined

    def device_removed(self, device: Device) -> None:
        """Undo ``device``'s hooks, then tell ``on_removed``."""
        for unhook in self._unhooks.pop(device.ieee, []):
            unhook()
        if self._on_removed is not None:
            self._on_removed(device)


def request_listeners(handlers: Mapping[type[foundation.CommandSchema], RequestHandler]) -> Hook:
    """A hook that routes each request of a listed schema from a device to its handler."""

    def hook(app: ControllerApplication, device: Device) -> list[Unhook]:
        return [
            app.register_callback_listener(src=device, filters=[schema()], callback=_bind(handler, device))
            for schema, handler in handlers.items()
        ]

    return hook


def request_route(cluster_id: int, route_for: Callable[[Device], RequestRoute[Any]]) -> Hook:
    """A hook that routes a device's requests on ``cluster_id`` straight from the raw frame to
    the route ``route_for(device)`` builds for it. The application must track its devices as
    :class:`SmartEnergyDevice` (:func:`~hanbench.radio.se_profile.with_smart_energy`), as the
    CH's does on every radio."""

    def hook(app: ControllerApplication, device: Device) -> list[Unhook]:
        if not isinstance(device, SmartEnergyDevice):
            raise BadInput(f"{device.ieee} is a {type(device).__name__}, not a SmartEnergyDevice: build the "
                           f"application with hanbench.radio.se_profile.with_smart_energy")
        return [device.route_requests(cluster_id, route_for(device))]

    return hook


def _bind(handler: RequestHandler, device: Device) -> Callable[[foundation.ZCLHeader, Any], Coroutine[Any, Any, None]]:
    """A zigpy request-listener callback that knows which device the request came from."""

    async def callback(hdr: foundation.ZCLHeader, cmd: Any) -> None:
        await handler(device, hdr, cmd)

    return callback
