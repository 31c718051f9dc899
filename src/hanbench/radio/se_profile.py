"""Teach zigpy 2.4 the Smart Energy profile (0x0109) that GB devices speak.

Plain zigpy 2.4 ignores Smart Energy traffic in two places:

1. ``ZigbeeDevice.packet_received`` asks ``_parse_packet_header`` for the frame's header.
   That method parses a ZCL header only when ``packet.profile_id`` is Home Automation
   (0x0104) or ZLL (0xC05E) and returns ``(None, None)`` otherwise, upon which the frame
   goes to ``custom_profile_packet_received``, which logs and drops it. So a meter's
   Read Attributes response or OTA ``query_next_image`` never reaches request matching,
   request listeners or cluster handlers, and the interview times out.
2. ``ZDO.handle_match_desc_req`` answers a ``Match_Desc_req`` for any profile but 0x0104
   with an empty match list, so a GB device looking for the OTA server finds none.

The fix is one device class and one ZDO class, applied in one place:

* :class:`SmartEnergyDevice` overrides ``_parse_packet_header`` so that an SE frame is parsed
  as ZCL: it hands zigpy's own parser a *view* of the packet with the HA profile ID, and
  returns zigpy's header and response key. The frame zigpy then dispatches is the
  original, still 0x0109; nothing on the air is rewritten, and zigpy's replies go out with
  the profile of the endpoint they come from (the device's Simple Descriptor says 0x0109).
  ZCL framing does not depend on the application profile, which is what makes the view
  sound. (The public ``custom_profile_packet_received`` hook is called too late to use: the
  frame has already left zigpy's pipeline, and re-entering it would need a rewritten packet.)
* :class:`SmartEnergyZDO` answers an SE ``Match_Desc_req`` from the coordinator's real
  endpoints: the SE endpoints that serve one of the requested input clusters or use one of
  the requested output clusters.
* :meth:`SmartEnergyDevice.route_requests` lets a CH server take a device's requests on one
  cluster straight from the raw frame (the OTA server does, for the four requests of an
  update): :meth:`SmartEnergyDevice.packet_received` reads the frame with
  :mod:`hanbench.radio.zcl_frames` before zigpy parses it, does zigpy's own bookkeeping for it
  (``last_seen``, LQI and RSSI, zigpy's duplicate filter) and hands the request to the server.
  Whatever the route does not take (another command, a frame it cannot read, a frame that
  answers a request the coordinator is waiting on, a cluster the device's endpoint does not
  have) goes through zigpy's pipeline unchanged. This is zigpy's receive path with its
  ``Struct`` parsing left out, for the frames that make up an update
  (:mod:`hanbench.radio.zcl_frames` says why); it runs the same on every radio. zigpy's
  duplicate filter is asked about a tuple of the fields its ``ZigbeePacket`` comparison uses
  (:func:`duplicate_key`) rather than a copy of the packet made with ``dataclasses.replace``
  and hashed field by field, which cost as much as reading the frame. The device's filter is a
  :class:`DuplicateFilter`, zigpy's ``Debouncer`` with the same answers kept in a heap rather
  than a list re-sorted on every frame, and its ``is_initialized`` (which zigpy's
  ``ControllerApplication.packet_received`` asks of every frame) is zigpy's in one pass.
* :func:`start_handler` answers a routed request as zigpy runs a coroutine listener (in a
  task of the application, which keeps the task and logs its failure), except that where the
  radio allows it runs the handler's first step at once, as asyncio's eager tasks (Python
  3.12) do, in a context of its own, and makes a task only for what is left if that step has
  to wait: for an Image Block Request on the virtual air the first step is the whole answer
  (the block read, the limiter slots taken, the frame handed to the radio), so a block costs
  neither a task nor a loop iteration to start one. A handler that waits carries on in a task
  of the application (:func:`_carry_on` drives it from the future it awaits, as its own task
  would; a cancellation reaches it where it waits), and a failure is logged as zigpy logs a
  failed listener task. Nothing zigpy guarantees changes: zigpy's duplicate filter has
  already passed the request, as before, since the route is only called after it; a handler
  that must wait for a limiter slot waits in the limiter's queue, in the order the requests
  arrived, as before. What differs is that the first step runs with no current task (nothing
  on the OTA path asks for one). The step is run at once only on a radio that hands frames
  over from loop callbacks of its own (``handlers_start_at_once`` of
  :class:`SmartEnergyAppMixin`: the virtual air), and only from such a callback: a serial
  radio (bellows) calls ``packet_received`` from inside its protocol's ``data_received``,
  where the answer's send would re-enter the protocol that is still reading, and inside a
  task asyncio allows no second current task; there the handler starts in its task on the
  next iteration, as zigpy's would.
* :func:`step_now` runs a task's step that asyncio has just scheduled at once, rather than on
  the loop's next iteration, from a loop callback: it relies on asyncio's ``call_soon`` of a
  new task's first step and of a future's wake-up of the task awaiting it (the step's handle
  is the last one on the loop's ready queue, and names its task); if asyncio schedules it
  otherwise the step just runs on the next iteration, and a test fails. An emulated device's
  OTA client uses it to carry on as the answer it waits for comes off the air, so that a block
  is two passes of the loop (request delivered and answered, answer delivered and the next
  request sent), as a bare asyncio exchange is.
* :meth:`SmartEnergyDevice.send_reply` sends a ZCL frame a server built by hand (an OTA
  answer) as ``Endpoint.reply`` would: the same ``ZigbeePacket`` (addresses, endpoints,
  profile, TSN, APS ACK, extended timeout for an end device, zigpy's source route, route
  discovery on a retry), the same retries and delay, under the device's and then (in the
  radio's ``send_packet``) the application's concurrency limits; what it leaves out is the
  keyword plumbing of four layers of calls and the ``asynccontextmanager`` of each limit
  (:func:`send_in_turn` takes the slot straight from zigpy's limiter). A ZLL endpoint,
  whose replies zigpy relabels, goes through ``Endpoint.reply`` itself. (It builds each
  packet with ``ZigbeePacket(...)``: a copy of a packet built once, its ``__dict__`` copied,
  measured slower over the whole path, since CPython 3.11 then keeps the copy's attributes in
  a dictionary rather than inline, and every later read of them on the path is slower.)
* :func:`with_smart_energy` builds an application class whose ``add_device`` creates
  :class:`SmartEnergyDevice`. zigpy creates devices through ``add_device`` on join, on
  announce and when loading its database, so this covers every device it tracks. The same
  function serves the virtual radio and bellows (``with_smart_energy(bellows...
  ControllerApplication)``).

Known gap: ``ZigbeeDevice.reinterview`` (run by zigpy's ``update_firmware`` after a
successful transfer) and ``ZigbeeDevice.clone`` construct a plain ``ZigbeeDevice`` by name.
The shadow device of a re-interview therefore drops SE attribute responses, the re-interview
fails after its timeouts, and zigpy keeps the existing device (it logs a warning). The
device itself keeps working.

``tests/unit/radio/test_se_profile.py`` pins the zigpy behaviour relied on here (for the
shortcuts: that ``send_reply`` puts on the air the packet ``Endpoint.reply`` does, first try and
retry, that ``duplicate_key`` tells duplicates apart as zigpy's filter does, that
:class:`DuplicateFilter` answers as zigpy's ``Debouncer`` on the same sequence, and that
``is_initialized`` says what zigpy's does in every state of an interview), so a zigpy upgrade
that changes it fails a test and this module gets reviewed.
"""

from __future__ import annotations

import asyncio
import collections
import contextvars
import enum
import heapq
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Generic, TypeVar

import zigpy.application
import zigpy.config
import zigpy.datastructures
import zigpy.device
import zigpy.endpoint
import zigpy.profiles.zha
import zigpy.profiles.zll
import zigpy.types as t
import zigpy.zdo
import zigpy.zdo.types as zdo_t
from zigpy.zcl import foundation

from hanbench.radio.zcl_frames import ZclHeader, read_header

LOGGER = logging.getLogger(__name__)

#: The Zigbee Smart Energy application profile.
SE_PROFILE_ID = 0x0109

_Request = TypeVar("_Request")
_NWK = t.AddrMode.NWK
_REPLY_OPTIONS = t.TransmitOptions.ACK  # zigpy asks for an APS ACK on a frame that expects no reply
_CRITICAL = int(t.PacketPriority.CRITICAL)
_NEW = zigpy.endpoint.Status.NEW


async def send_in_turn(limiter: zigpy.datastructures.RequestLimiter, priority: int,
                       send: Callable[[t.ZigbeePacket], Awaitable[None]], packet: t.ZigbeePacket) -> None:
    """``send(packet)`` holding a slot of one of zigpy's request limiters for a frame of
    ``priority``, taken as zigpy's ``_limit_concurrency`` takes it (a CRITICAL frame skips the
    queue), without that method's generator-based context manager and its debug logging of
    delayed requests.

    A slot that is certainly free now, with nobody waiting, is taken and given back directly,
    as ``RequestLimiter._acquire`` takes one when it need not wait (it counts the frame in its
    priority tier) and as ``_release`` gives it back (which also wakes the next waiter);
    otherwise the frame queues in the limiter's own context manager. "Certainly free": fewer
    frames hold slots, in all tiers together, than the frame's tier may have, which is
    ``not limiter.locked(priority)`` without its walk over the tiers (a limiter near its
    capacity is asked through the context manager, which decides as zigpy does). That spares
    every uncontended frame the context manager's object and its two coroutines."""
    if priority >= _CRITICAL:
        await send(packet)
        return
    tier = limiter._get_effective_priority_tier(priority)
    held = limiter._active_requests_by_tier
    if limiter._waiters or sum(held.values()) >= limiter._cumulative_capacity[tier]:
        async with limiter(priority=priority):
            await send(packet)
        return
    held[tier] += 1
    try:
        await send(packet)
    finally:
        held[tier] -= 1
        if limiter._waiters:
            limiter._wake_waiters()


def start_handler(app: zigpy.application.ControllerApplication,
                  handler: Coroutine[Any, Any, None]) -> asyncio.Task[None] | None:
    """Answer a routed request by running ``handler``: as zigpy runs a listener, in a task of
    ``app``; where the radio allows, its first step at once and a task only for what is left
    if it has to wait (see the module docstring). The task, or ``None`` if the handler is done."""
    if not getattr(app, "handlers_start_at_once", False) or asyncio.current_task() is not None:
        return app.create_task(handler)
    context = contextvars.copy_context()  # what a task would run it in
    try:
        waiting_for = context.run(handler.send, None)
    except (StopIteration, asyncio.CancelledError):
        return None
    except Exception:  # what zigpy's create_task logs of a listener task that failed
        LOGGER.exception("Answering a routed request failed")
        return None
    loop = asyncio.get_running_loop()
    task = loop.create_task(_carry_on(handler, waiting_for), context=context)
    app._tasks.add(task)  # as zigpy's create_task keeps its tasks, until each is done
    task.add_done_callback(app._task_done)
    step_now(task)  # waiting where the handler waits from now on, so a cancellation reaches it there
    return task


async def _carry_on(handler: Coroutine[Any, Any, None], waiting_for: Any) -> None:
    """Run ``handler`` on from the first step :func:`start_handler` ran, as its task would:
    ``waiting_for`` is what that step yielded (the future it awaits, or ``None`` to be run
    again on the next iteration). The handler reads the future's result or exception itself,
    as it does in a task; a cancellation of this task reaches the handler where it waits."""
    while True:
        try:
            if waiting_for is None:
                await asyncio.sleep(0)
            else:
                waiting_for._asyncio_future_blocking = False  # as a task takes the future its coroutine yields
                await waiting_for
        except asyncio.CancelledError as cancelled:
            if waiting_for is None or not waiting_for.cancelled():  # this task was cancelled
                try:
                    waiting_for = handler.throw(cancelled)
                except StopIteration:
                    return
                continue
        except Exception:
            if not waiting_for.done():
                raise
        try:
            waiting_for = handler.send(None)
        except StopIteration:
            return


def step_now(task: asyncio.Task[Any]) -> bool:
    """Run the step of ``task`` that asyncio has just scheduled now, rather than on the loop's
    next iteration; whether it ran (see the module docstring).

    Only from a loop callback (no task running) and only if that step is the last handle on
    the running loop's ready queue: the handle ``create_task`` schedules for a new task's first
    step, or the one a future schedules to wake the task that awaits it."""
    loop = asyncio.get_running_loop()
    ready: collections.deque[asyncio.Handle] | None = getattr(loop, "_ready", None)
    if not ready or asyncio.current_task(loop) is not None:
        return False
    step = ready[-1]
    if step.cancelled() or getattr(step._callback, "__self__", None) is not task:  # type: ignore[attr-defined]
        return False
    ready.pop()
    step._run()  # type: ignore[attr-defined]
    return True


def duplicate_key(packet: t.ZigbeePacket) -> tuple[Any, ...]:
    """What zigpy's duplicate filter compares of a received packet: every field of
    ``ZigbeePacket``'s equality but the TSN, LQI and RSSI (which zigpy blanks before it
    compares; the timestamp is not compared at all). The data as ``bytes``, which hash in C
    (zigpy's ``SerializableBytes`` hashes them from Python)."""
    src, dst = packet.src, packet.dst
    return (
        packet.data.serialize(), packet.cluster_id, packet.src_ep, packet.dst_ep, packet.profile_id,
        None if src is None else (src.addr_mode, src.address), None if dst is None else (dst.addr_mode, dst.address),
        packet.priority, None if packet.source_route is None else tuple(packet.source_route),
        packet.extended_timeout, packet.tx_options, packet.radius, packet.non_member_radius,
        packet.alias_src, packet.alias_seq,
    )


class DuplicateFilter(zigpy.datastructures.Debouncer):
    """zigpy's duplicate filter (``Debouncer``) with the same answers, cheaper per frame.

    zigpy keeps what it has seen in a list sorted by expiry, kept sorted with ``insort`` on
    every frame, and reaches it through three Python calls; this keeps a heap of the same
    expiries (a device's entries all have the same window, so each new one is the heap's
    largest and goes in with one comparison) and hashes a frame's key once. What it answers
    and what it holds at any time are zigpy's: an object is filtered while an earlier one
    equal to it has not expired, and filtering does not extend the window
    (``tests/unit/radio/test_se_profile.py`` runs both on the same sequence)."""

    def __init__(self) -> None:
        super().__init__()
        self._expiries: list[tuple[float, int, Any]] = []  # a heap: (expiry, order, object)
        self._order = 0

    def clean(self, now: float | None = None) -> None:
        if now is None:
            now = self._loop.time()
        expiries, times = self._expiries, self._times
        while expiries and expiries[0][0] < now:
            del times[heapq.heappop(expiries)[2]]

    def is_filtered(self, obj: Any, now: float | None = None) -> bool:
        self.clean(now)
        return obj in self._times

    def filter(self, obj: Any, expire_in: float) -> bool:
        now = self._loop.time()
        expiries, times = self._expiries, self._times
        if expiries and expiries[0][0] < now:
            self.clean(now)
        held = len(times)
        expiry = times.setdefault(obj, now + expire_in)
        if len(times) == held:
            return True
        self._order += 1
        heapq.heappush(expiries, (expiry, self._order, obj))
        return False

    def __repr__(self) -> str:
        return f"<{self.__class__.__name__} [tracked:{len(self._expiries)}]>"


class SeDeviceType(enum.IntEnum):
    """Smart Energy 1.x device IDs, as GBCS maps them onto the HAN devices."""

    RANGE_EXTENDER = 0x0008
    ENERGY_SERVICE_INTERFACE = 0x0500  # the Comms Hub
    METERING_DEVICE = 0x0501  # ESME, GSME
    IN_HOME_DISPLAY = 0x0502  # IHD
    PROGRAMMABLE_COMMUNICATING_THERMOSTAT = 0x0503
    LOAD_CONTROL_DEVICE = 0x0504  # HCALCS
    SMART_APPLIANCE = 0x0505
    PREPAYMENT_TERMINAL = 0x0506  # PPMID
    PHYSICAL_DEVICE = 0x0507
    REMOTE_COMMUNICATIONS_DEVICE = 0x0508


class SmartEnergyZDO(zigpy.zdo.ZDO):
    """The ZDO endpoint of a device, able to answer SE service discovery."""

    def handle_match_desc_req(
        self,
        hdr: zdo_t.ZDOHeader,
        addr: t.NWK,
        profile: int,
        in_clusters: list[int],
        out_clusters: list[int],
    ) -> None:
        """Answer an SE ``Match_Desc_req`` from the coordinator's endpoints; others as zigpy does."""
        if profile != SE_PROFILE_ID:
            super().handle_match_desc_req(hdr, addr, profile, in_clusters, out_clusters)
            return
        app = self._device.application
        matches = [
            t.uint8_t(ep.endpoint_id)
            for ep in app._device.non_zdo_endpoints
            if ep.profile_id == SE_PROFILE_ID
            and (
                set(in_clusters) & set(ep.in_clusters)
                or set(out_clusters) & set(ep.out_clusters)
            )
        ]
        self.create_catching_task(
            self.Match_Desc_rsp(
                zdo_t.Status.SUCCESS,
                app.state.node_info.nwk,
                matches,
                tsn=hdr.tsn,
                priority=t.PacketPriority.CRITICAL,
            )
        )


class RequestRoute(Generic[_Request]):
    """Requests on one cluster that a server takes from the raw frame: ``read`` gives the
    request a frame carries (``None``: not one of its, ``ValueError``: truncated), ``handle``
    is called with the endpoint the request came from, its header and the request."""

    def __init__(self, read: Callable[[ZclHeader, bytes], _Request | None],
                 handle: Callable[[zigpy.endpoint.Endpoint, ZclHeader, _Request], None]) -> None:
        self.read = read
        self.handle = handle


class SmartEnergyDevice(zigpy.device.Device):
    """A zigpy device whose SE-profile ZCL frames reach zigpy's handlers, or a CH server's route."""

    def __init__(
        self, application: zigpy.application.ControllerApplication, ieee: t.EUI64, nwk: t.NWK
    ) -> None:
        super().__init__(application, ieee, nwk)
        self.zdo = SmartEnergyZDO(self)
        self.endpoints[zigpy.zdo.ZDO_ENDPOINT] = self.zdo
        self._packet_debouncer = DuplicateFilter()
        self._routes: dict[int, RequestRoute[Any]] = {}
        # send_reply's NWK source and destination, kept while neither address changes: zigpy's
        # AddrModeAddress re-validates its address on every construction, 4-7 us each.
        self._reply_addresses: tuple[int, int, t.AddrModeAddress, t.AddrModeAddress] | None = None

    @property
    def is_initialized(self) -> bool:
        """zigpy's ``is_initialized`` (the node descriptor known, and at least one endpoint
        besides the ZDO's, none of them still NEW) in one pass over the endpoints: zigpy's
        builds the list of those endpoints twice, for every frame the device sends."""
        if self.node_desc is None:
            return False
        found = False
        for endpoint in self.endpoints.values():
            if isinstance(endpoint, zigpy.zdo.ZDO):
                continue
            if endpoint.status == _NEW:
                return False
            found = True
        return found

    def route_requests(self, cluster_id: int, route: RequestRoute[Any]) -> Callable[[], None]:
        """Send this device's requests on ``cluster_id`` that ``route`` reads to its handler,
        from now on; returns how to stop."""
        self._routes[cluster_id] = route

        def unroute() -> None:
            if self._routes.get(cluster_id) is route:
                del self._routes[cluster_id]

        return unroute

    def packet_received(self, packet: t.ZigbeePacket) -> None:
        route = self._routes.get(packet.cluster_id) if self._routes else None
        if route is None or not self._take(route, packet):
            super().packet_received(packet)

    def _take(self, route: RequestRoute[Any], packet: t.ZigbeePacket) -> bool:
        """Hand a request to ``route`` as zigpy's ``packet_received`` would reach a listener;
        False leaves the frame to zigpy."""
        if packet.profile_id != SE_PROFILE_ID or packet.src_ep == zigpy.zdo.ZDO_ENDPOINT:
            return False
        endpoint = self.endpoints.get(packet.src_ep)
        if not isinstance(endpoint, zigpy.endpoint.Endpoint) or packet.cluster_id not in endpoint.out_clusters:
            return False
        data = packet.data.serialize()
        try:
            header = read_header(data)
            request = route.read(header, data[header.length:])
        except ValueError:
            return False  # zigpy reads it again and logs why it cannot
        if request is None:
            return False
        if self._requests and zigpy.device.ResponseKey(
            packet.src_ep, packet.cluster_id, header.direction, header.tsn
        ) in self._requests:
            return False  # it answers something the coordinator asked: zigpy matches it
        self.last_seen = packet.timestamp
        if packet.lqi is not None:
            self.lqi = packet.lqi
        if packet.rssi is not None:
            self.rssi = packet.rssi
        if not self._packet_debouncer.filter(obj=duplicate_key(packet), expire_in=zigpy.device.PACKET_DEBOUNCE_WINDOW):
            route.handle(endpoint, header, request)
        return True

    async def send_reply(self, endpoint: zigpy.endpoint.Endpoint, cluster_id: int, frame: bytes, *,
                         aps_encryption: bool = False) -> None:
        """Send the ZCL ``frame`` (its TSN the request's) to ``endpoint`` of this device as
        ``endpoint.reply`` does, from the coordinator's endpoint of the same number; zigpy's
        ``DeliveryError`` once its retries are spent."""
        if endpoint.profile_id == zigpy.profiles.zll.PROFILE_ID:
            await endpoint.reply(cluster_id, frame[1], frame, command_id=frame[2], aps_encryption=aps_encryption)
            return
        app = self._application
        endpoint_id = endpoint.endpoint_id
        options = _REPLY_OPTIONS | t.TransmitOptions.APS_Encryption if aps_encryption else _REPLY_OPTIONS
        source_route = (self._application.build_source_route_to(dest=self)
                        if app.config[zigpy.config.CONF_SOURCE_ROUTING] else None)
        data = t.SerializableBytes(frame)
        src, dst = self._reply_source_and_destination()
        retries = zigpy.device.DEFAULT_REQUEST_RETRIES
        for attempt in range(retries + 1):
            packet = t.ZigbeePacket(
                src=src, src_ep=endpoint_id, dst=dst, dst_ep=endpoint_id, tsn=frame[1],
                profile_id=endpoint.profile_id, cluster_id=cluster_id, data=data,
                extended_timeout=self.node_desc is None or self.node_desc.is_end_device,
                source_route=source_route,
                tx_options=options | t.TransmitOptions.FORCE_ROUTE_DISCOVERY if attempt else options,
            )
            try:
                await send_in_turn(self._concurrent_requests_semaphore, app._packet_priority_var.get(),
                                   app.send_packet, packet)
                return
            except Exception:
                if attempt == retries:
                    raise
                await asyncio.sleep(zigpy.device.DEFAULT_REQUEST_RETRY_DELAY)

    def _reply_source_and_destination(self) -> tuple[t.AddrModeAddress, t.AddrModeAddress]:
        """The coordinator's and this device's NWK addresses as zigpy's ``request`` writes them
        (built again only when one of them has changed)."""
        ours, theirs = self._application.state.node_info.nwk, self.nwk
        cached = self._reply_addresses
        if cached is None or cached[0] != ours or cached[1] != theirs:
            cached = self._reply_addresses = (ours, theirs, t.AddrModeAddress(addr_mode=_NWK, address=ours),
                                              t.AddrModeAddress(addr_mode=_NWK, address=theirs))
        return cached[2], cached[3]

    def _parse_packet_header(
        self, packet: t.ZigbeePacket
    ) -> tuple[zdo_t.ZDOHeader | foundation.ZCLHeader, Any] | tuple[None, None]:
        if packet.profile_id == SE_PROFILE_ID and packet.src_ep != zigpy.zdo.ZDO_ENDPOINT:
            return super()._parse_packet_header(
                packet.replace(profile_id=zigpy.profiles.zha.PROFILE_ID)
            )
        return super()._parse_packet_header(packet)


class SmartEnergyAppMixin(zigpy.application.ControllerApplication):
    """Makes an application track its devices as :class:`SmartEnergyDevice`."""

    #: Whether the radio hands received frames to ``packet_received`` from loop callbacks of
    #: its own, outside any I/O protocol, so that :func:`start_handler` may run a handler's
    #: first step there (see the module docstring). A serial radio does not.
    handlers_start_at_once: bool = False

    def add_device(self, ieee: t.EUI64, nwk: t.NWK) -> zigpy.device.Device:
        assert isinstance(ieee, t.EUI64)
        device = SmartEnergyDevice(self, ieee, nwk)
        self.devices[ieee] = device
        return device


_App = TypeVar("_App", bound=type[zigpy.application.ControllerApplication])


def with_smart_energy(app_class: _App) -> _App:
    """``app_class`` with the SE fix mixed in (returned as is if it already has it)."""
    if issubclass(app_class, SmartEnergyAppMixin):
        return app_class
    return type(  # type: ignore[return-value]
        f"SmartEnergy{app_class.__name__}",
        (SmartEnergyAppMixin, app_class),
        {"__module__": __name__},
    )
