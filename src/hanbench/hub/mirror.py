"""The CH's mirror of each GSME: its Functional Notification Flags, served over the air.

A GSME sleeps with its receiver off, so the CH tells it what waits through flags the GSME
reads when it wakes (SE 1.4 Metering mirroring; GBCS names the bits): bit 0 "New OTA
Firmware" while the CH holds an image for it, bit 21 "Tunnel Message Pending" while a GBCS
command waits in the sleepy queue. The flags are the Metering **client** attribute 0x0000
(bitmap32) on the GSME's mirror endpoint in the CH.

Over the air, as SE specifies and the Silicon Labs meter-mirror/CHF plugins do it:

* the GSME sends Metering **RequestMirror** (server to client); the CH answers
  **RequestMirrorResponse** with the mirror's endpoint, or 0xFFFF when it has no mirror
  for that device (the bench mirrors only devices the CH composition registered with
  :meth:`MirrorServer.create`, i.e. GSMEs in its device log);
* the GSME sends **Read Attributes** (server to client: the attributes of the mirror's
  Metering *client*) to that endpoint; the CH answers Read Attributes Response from it.
  A device without a mirror gets UNSUPPORTED_ATTRIBUTE for everything it reads.

How it hooks into zigpy: on the CH, a GSME's frames arrive at zigpy's object for the
GSME's own Metering server cluster. :class:`MirrorServer` hooks every device as the CH's
other servers do (:class:`~hanbench.hub.cluster_hook.DeviceHooks`), but listens to those
cluster objects (``Cluster.add_listener``: ``general_command`` and ``cluster_command``
events) rather than to zigpy's request listeners, because the answer must go back to the
endpoint the frame came from, which only the cluster object knows; it answers with
``Device.reply`` from the mirror endpoint. zigpy's own answers to these two frames are suppressed by
:class:`hanbench.radio.se_clusters.Metering`.

The answers are written by hand (:mod:`hanbench.radio.zcl_frames`' header, and a Read
Attributes Response record per attribute, ZCL §2.5.2) rather than as zigpy ``Struct`` objects:
each GSME wake reads the flags, and zigpy's ``ZCLHeader``, ``ReadAttributeRecord`` and
``TypeValue`` bind their arguments through ``inspect.Signature`` on every construction, which
made the CH's answer a quarter of the CPU of an estate's day of GSME wakes.
``tests/unit/hub/test_mirror.py`` pins the bytes to zigpy's own serialisation of the same
answers.

The mirror endpoints are a fixed range the CH hosts (:data:`DEFAULT_MIRROR_ENDPOINTS`); a
real stack only delivers frames to endpoints it has, so put :func:`mirror_endpoint_descriptors`
among the coordinator's endpoints.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import struct
from collections.abc import Callable, Sequence
from typing import Any

import zigpy.types as t
import zigpy.zdo.types as zdo_t
from zigpy.application import ControllerApplication
from zigpy.device import Device
from zigpy.zcl import Cluster, foundation

from hanbench.errors import BadInput
from hanbench.gbcs.entity import EntityId
from hanbench.hub.cluster_hook import DeviceHooks, Unhook
from hanbench.listeners import Listeners
from hanbench.radio.addresses import entity_of
from hanbench.radio.se_clusters import (
    NO_MIRROR_ENDPOINT,
    Metering,
    MeteringClientAttributes,
    NotificationFlags,
    is_client_attribute_read,
)
from hanbench.radio.endpoints import se_endpoint
from hanbench.radio.zcl_frames import header
from hanbench.radio.se_profile import SeDeviceType

LOGGER = logging.getLogger(__name__)

#: Endpoints the CH keeps for GSME mirrors (endpoint 1 is its ESI endpoint).
DEFAULT_MIRROR_ENDPOINTS: tuple[int, ...] = (2, 3, 4, 5)

FlagsListener = Callable[["Mirror"], None]

_READ_ATTRIBUTES_RSP = foundation.GeneralCommand.Read_Attributes_rsp.value
_FLAGS = MeteringClientAttributes.functional_notification_flags
#: A Read Attributes Response record (ZCL §2.5.2.1): attribute ID and status, then the type
#: and value of an attribute read (the flags, a 32-bit bitmap).
_UNREAD_RECORD = struct.Struct("<HB")
_FLAGS_RECORD = struct.Struct("<HBBI")
_FLAGS_TYPE = int(_FLAGS.zcl_type)
_UNSUPPORTED = foundation.Status.UNSUPPORTED_ATTRIBUTE.value
_SUCCESS = foundation.Status.SUCCESS.value


def mirror_endpoint_descriptors(endpoints: Sequence[int] = DEFAULT_MIRROR_ENDPOINTS) -> list[zdo_t.SimpleDescriptor]:
    """Simple Descriptors of the CH's mirror endpoints: Metering server and client, SE profile."""
    return [
        se_endpoint(
            endpoint,
            SeDeviceType.METERING_DEVICE,
            server_clusters=[Metering.cluster_id],
            client_clusters=[Metering.cluster_id],
        )
        for endpoint in endpoints
    ]


class Mirror:
    """One GSME's mirror: its endpoint in the CH and its notification flags."""

    def __init__(self, device: EntityId, endpoint: int, on_change: FlagsListener) -> None:
        self.device = device
        self.endpoint = endpoint
        self._flags = NotificationFlags(0)
        self._on_change = on_change

    @property
    def flags(self) -> NotificationFlags:
        """The Functional Notification Flags as the GSME would read them now."""
        return self._flags

    def set(self, flags: NotificationFlags) -> None:
        """Raise ``flags`` (e.g. NEW_OTA_FIRMWARE when the CH takes an image for the GSME)."""
        self._update(self._flags | flags)

    def clear(self, flags: NotificationFlags) -> None:
        """Lower ``flags`` (e.g. NEW_OTA_FIRMWARE when the transfer has completed)."""
        self._update(self._flags & ~flags)

    def _update(self, flags: NotificationFlags) -> None:
        flags = NotificationFlags(flags)
        if flags != self._flags:
            self._flags = flags
            self._on_change(self)

    def __repr__(self) -> str:
        return f"Mirror({self.device}, endpoint={self.endpoint}, flags={self._flags!r})"


class MirrorServer:
    """The CH's mirrors, one per registered GSME, served on one zigpy application."""

    def __init__(self, endpoints: Sequence[int] = DEFAULT_MIRROR_ENDPOINTS, *, esi_endpoint: int = 1) -> None:
        if not endpoints or len(set(endpoints)) != len(endpoints) or esi_endpoint in endpoints:
            raise BadInput(f"mirror endpoints must be distinct and exclude the ESI endpoint, got {list(endpoints)}")
        self.esi_endpoint = esi_endpoint
        self._free = list(endpoints)
        self._mirrors: dict[EntityId, Mirror] = {}
        self._listeners: Listeners[FlagsListener] = Listeners()
        self._hooks = DeviceHooks("mirror server", self._attach)

    # -- the mirrors --------------------------------------------------------------------

    def create(self, device: EntityId | t.EUI64 | str) -> Mirror:
        """The mirror of ``device``, made now if it has none (idempotent)."""
        entity = entity_of(device)
        mirror = self._mirrors.get(entity)
        if mirror is not None:
            return mirror
        if not self._free:
            raise BadInput(f"the CH has no free mirror endpoint for {entity}; give it more mirror endpoints")
        mirror = Mirror(entity, self._free.pop(0), self._changed)
        self._mirrors[entity] = mirror
        return mirror

    def get(self, device: EntityId | t.EUI64 | str) -> Mirror | None:
        """The mirror of ``device``, or ``None`` if it has none."""
        return self._mirrors.get(entity_of(device))

    def on_change(self, listener: FlagsListener) -> Callable[[], None]:
        """Call ``listener`` with a mirror whenever its flags change; returns a remover."""
        return self._listeners.add(listener)

    def _changed(self, mirror: Mirror) -> None:
        LOGGER.debug("mirror of %s now flags %r", mirror.device, mirror.flags)
        self._listeners(mirror)

    # -- installation -------------------------------------------------------------------

    def install(self, app: ControllerApplication) -> None:
        """Serve the mirrors to their GSMEs on ``app``, now and as they join."""
        self._hooks.install(app)

    def uninstall(self) -> None:
        """Stop answering mirror traffic."""
        self._hooks.uninstall()

    def _attach(self, app: ControllerApplication, device: Device) -> list[Unhook]:
        """Listen to the Metering server clusters of ``device`` (a mirror may come later).

        Nothing to listen to before zigpy has interviewed the device's endpoints; the
        hooks ask again when the device is initialised.
        """
        unhooks: list[Unhook] = []
        for endpoint in device.non_zdo_endpoints:
            cluster = endpoint.in_clusters.get(Metering.cluster_id)
            if cluster is not None:
                listener = _MeteringListener(self, device, cluster)
                cluster.add_listener(listener)
                unhooks.append(functools.partial(cluster.remove_listener, listener))
        return unhooks

    # -- answers --------------------------------------------------------------------------

    async def _answer_request_mirror(self, device: Device, cluster: Cluster, tsn: int) -> None:
        mirror = self.get(device.ieee)
        endpoint = NO_MIRROR_ENDPOINT if mirror is None else mirror.endpoint
        response = Metering.ServerCommandDefs.request_mirror_response
        frame = _answer_header(tsn, response.id, cluster_specific=True) + response.schema(endpoint_id=endpoint).serialize()
        await self._reply(device, cluster, self.esi_endpoint, tsn, frame)

    async def _answer_read(self, device: Device, cluster: Cluster, tsn: int, attribute_ids: list[int]) -> None:
        mirror = self.get(device.ieee)
        src_ep = self.esi_endpoint if mirror is None else mirror.endpoint
        await self._reply(device, cluster, src_ep, tsn, read_attributes_response(tsn, mirror, attribute_ids))

    @staticmethod
    async def _reply(device: Device, cluster: Cluster, src_ep: int, tsn: int, frame: bytes) -> None:
        """Send one answer from the CH's Metering client (``src_ep``) to the GSME's server."""
        await device.reply(
            profile=cluster.endpoint.profile_id,
            cluster=Metering.cluster_id,
            src_ep=src_ep,
            dst_ep=cluster.endpoint.endpoint_id,
            sequence=tsn,
            data=frame,
        )


def _answer_header(tsn: int, command_id: int, *, cluster_specific: bool) -> bytes:
    """The header of the CH's answer from its Metering client: client to server, no Default Response."""
    return header(tsn, command_id, cluster_specific=cluster_specific, server_to_client=False,
                  disable_default_response=True)


def read_attributes_response(tsn: int, mirror: Mirror | None, attribute_ids: Sequence[int]) -> bytes:
    """The CH's Read Attributes Response to a read of ``mirror``'s client attributes: the flags
    where asked for, every other attribute unsupported; a device without a mirror reads nothing."""
    records = b"".join(
        _FLAGS_RECORD.pack(attrid, _SUCCESS, _FLAGS_TYPE, int(mirror.flags))
        if mirror is not None and attrid == _FLAGS.id else _UNREAD_RECORD.pack(attrid, _UNSUPPORTED)
        for attrid in attribute_ids
    )
    return _answer_header(tsn, _READ_ATTRIBUTES_RSP, cluster_specific=False) + records


class _MeteringListener:
    """Listens to one GSME's Metering server cluster object on the CH for mirror traffic."""

    def __init__(self, server: MirrorServer, device: Device, cluster: Cluster) -> None:
        self._server = server
        self._device = device
        self._cluster = cluster

    def general_command(self, hdr: foundation.ZCLHeader, args: Any) -> None:
        if is_client_attribute_read(hdr):
            self._spawn(self._server._answer_read(self._device, self._cluster, hdr.tsn, list(args.attribute_ids)))

    def cluster_command(self, tsn: int, command_id: int, args: Any) -> None:
        if isinstance(args, Metering.ClientCommandDefs.request_mirror.schema):
            self._spawn(self._server._answer_request_mirror(self._device, self._cluster, tsn))

    def _spawn(self, answer: Any) -> None:
        task = asyncio.get_running_loop().create_task(answer, name=f"mirror-answer-{self._device.ieee}")
        task.add_done_callback(_log_failure)


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        LOGGER.warning("a mirror answer did not reach its GSME: %s", task.exception())
