"""A labgrid place: taking it for a run, and the serial ports it exports.

labgrid is what embedded labs share boards with: an exporter on each host the USB devices
hang off publishes them to a coordinator, a *place* groups resources under a name, and a
client acquires a place to have it alone. hanbench is such a client, and uses labgrid's
own client rather than ``labgrid-client`` in a subprocess:

* :class:`labgrid.remote.client.ClientSession`, the coordinator connection (gRPC since
  labgrid 25.0): it mirrors every place and resource, and its ``check_matches``,
  ``get_place`` and ``get_target_resources`` apply labgrid's rules (patterns and aliases,
  renamed matches, who holds a place) instead of a copy of them;
* the coordinator's ``AcquirePlace`` / ``ReleasePlace`` calls through the session's stub,
  which are what ``labgrid-client acquire`` / ``release`` send (without their printing);
* :data:`labgrid.util.proxy.proxymanager` for the host and port of an exported serial
  port, so an isolated exporter is reached through labgrid's SSH forwarding, as labgrid's
  own serial driver reaches it;
* the place's ``NetworkPowerPort`` resources, handed on as power tables that labgrid's own
  power driver switches (:mod:`hanbench.hardware.labgrid_power`).

An exporter serves each local serial port it exports (``USBSerialPort``, ``RawSerialPort``)
as a ``NetworkSerialPort`` through ser2net over RFC 2217, starting ser2net when a place
holding it is acquired; hanbench opens those with pyserial's ``rfc2217://`` URL handler
(boards) and zigpy's serial layer (the stick), which both speak it.

What labgrid's client does not do and this module adds: waiting for a place someone else
holds, with a message saying who and a time limit (``labgrid-client acquire`` fails at
once), waiting for the exporter to start serving every port, and releasing the place on
every way out of the block: an exception, Ctrl-C, or SIGTERM, which is turned into
Ctrl-C while the place is held. labgrid has no lease: a process killed outright leaves the
place acquired until someone runs ``labgrid-client -p NAME release --kick``.

labgrid is optional (``pip install 'hanbench[labgrid]'``); it is imported only here, and
only when a bench names a place.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import os
import signal
import threading
import time
from collections.abc import Callable, Coroutine, Iterator, Mapping
from typing import Any, TypeVar

from hanbench.errors import BadInput, InfrastructureFault

#: labgrid's coordinator port when an address gives none (its clients' default too).
DEFAULT_COORDINATOR_PORT = 20408
#: The environment variable labgrid's tools read the coordinator address from.
COORDINATOR_ENV = "LG_COORDINATOR"
SERIAL_CLASS = "NetworkSerialPort"
POWER_CLASS = "NetworkPowerPort"

_T = TypeVar("_T")


class LabgridMissing(BadInput):
    """The bench names a labgrid place and labgrid is not installed."""


class PlaceProblem(BadInput):
    """The place cannot serve this bench as it is set up: unknown, or a resource it lacks."""


class CoordinatorUnreachable(InfrastructureFault):
    """No labgrid coordinator answers at the address."""


class PlaceBusy(InfrastructureFault):
    """Someone else held the place for longer than the bench waits."""


class PortsNotServed(InfrastructureFault):
    """The place was acquired, but its exporter did not serve every serial port in time."""


def coordinator_address(given: str | None) -> str:
    """The coordinator to use: ``given``, else ``$LG_COORDINATOR``, else labgrid's default on this host."""
    return given or os.environ.get(COORDINATOR_ENV) or f"127.0.0.1:{DEFAULT_COORDINATOR_PORT}"


@dataclasses.dataclass(frozen=True)
class AcquiredPlace:
    """A place this process holds: its name and, by resource name, the pyserial URL of each serial port.

    An RFC 2217 port's URL carries ``ign_set_control``, as labgrid's serial driver opens it:
    ser2net does not acknowledge SET-CONTROL on a port exported without modem lines.
    """

    name: str
    coordinator: str
    serial_ports: Mapping[str, str]
    #: By resource name, each ``NetworkPowerPort`` of the place as a ``labgrid`` power table.
    power_ports: Mapping[str, Mapping[str, Any]] = dataclasses.field(default_factory=dict)

    def port_url(self, name: str) -> str:
        """The URL of the serial port named ``name`` in the place (``rfc2217://host:port?ign_set_control``)."""
        try:
            return self.serial_ports[name]
        except KeyError:
            have = ", ".join(sorted(self.serial_ports)) or "none"
            raise PlaceProblem(f"labgrid place {self.name!r} has no serial port named {name!r}; its serial ports: "
                               f"{have} (name each resource in the exporter's config, or rename it with "
                               f"labgrid-client -p {self.name} add-named-match)") from None


@contextlib.contextmanager
def acquired_place(place: str, coordinator: str, *, timeout: float, serve_timeout: float = 10.0,
                   poll: float = 0.5, say: Callable[[str], None] = print) -> Iterator[AcquiredPlace]:
    """Hold the labgrid ``place`` for the block; see the module docstring.

    Waits up to ``timeout`` seconds for a place someone else holds, telling ``say`` who holds
    it (again whenever that changes), then up to ``serve_timeout`` for its exporter to serve
    every serial port. The place is released when the block ends, however it ends.
    """
    _labgrid()
    with _sigterm_as_interrupt():
        held = _call(_acquire(place, coordinator, timeout=timeout, serve_timeout=serve_timeout, poll=poll, say=say))
        try:
            yield held
        finally:
            _call(_release(place, coordinator))


def _labgrid() -> None:
    try:
        import labgrid.remote.client  # noqa: F401
    except ImportError as exc:
        raise LabgridMissing(f"this bench names a labgrid place, and labgrid is not installed ({exc}); "
                             "install it with: pip install 'hanbench[labgrid]'") from None


def _call(coroutine: Coroutine[Any, Any, _T]) -> _T:
    """Run ``coroutine`` to the end on a loop of its own, in a thread of its own.

    The session's gRPC channel belongs to one event loop; a thread makes this callable from
    anywhere, including a coroutine of a loop that is already running (a pytest fixture).
    Ctrl-C while it runs (waiting for a busy place) cancels the coroutine, which gives back
    what it took, before the interrupt goes on.
    """
    loop = asyncio.new_event_loop()
    task = loop.create_task(coroutine)
    done: concurrent.futures.Future[_T] = concurrent.futures.Future()

    def run() -> None:
        try:
            done.set_result(loop.run_until_complete(task))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread as it is
            done.set_exception(exc)
        finally:
            loop.close()

    thread = threading.Thread(target=run, name="hanbench-labgrid", daemon=True)
    thread.start()
    try:
        return done.result()
    except BaseException:
        if not done.done():
            loop.call_soon_threadsafe(task.cancel)
        thread.join()
        raise


@contextlib.asynccontextmanager
async def _session(coordinator: str) -> Any:
    from labgrid.remote.client import ClientSession, ServerError
    from labgrid.util.proxy import proxymanager

    address = proxymanager.get_grpc_address(coordinator, default_port=DEFAULT_COORDINATOR_PORT)
    session = ClientSession(address, asyncio.get_running_loop())
    try:
        try:
            await asyncio.wait_for(session.start(), timeout=30)
        except (ServerError, TimeoutError) as exc:
            raise CoordinatorUnreachable(f"no labgrid coordinator answers at {address} ({exc or 'timed out'}); "
                                         f"set [lab] coordinator or {COORDINATOR_ENV}") from None
        yield session
    finally:
        await session.stop()
        await session.close()


async def _acquire(place: str, coordinator: str, *, timeout: float, serve_timeout: float, poll: float,
                   say: Callable[[str], None]) -> AcquiredPlace:
    from labgrid.remote.client import Error
    from labgrid.remote.generated import labgrid_coordinator_pb2
    import grpc

    async with _session(coordinator) as session:
        deadline = time.monotonic() + timeout
        told: str | None = None
        while True:
            found = _place(session, place)
            if not found.acquired:
                try:
                    session.check_matches(found)
                except Error as exc:
                    raise PlaceProblem(f"labgrid place {place!r}: {exc} (is its exporter running?)") from None
                try:
                    await session.stub.AcquirePlace(labgrid_coordinator_pb2.AcquirePlaceRequest(placename=found.name))
                    await session.sync_with_coordinator()
                    break
                except grpc.aio.AioRpcError as exc:  # taken in between, or a resource held by another place
                    if not _place(session, place).acquired:
                        raise PlaceProblem(f"labgrid place {place!r} cannot be acquired: {exc.details()}") from None
                    continue
            if found.acquired != told:
                told = found.acquired
                say(f"hanbench: labgrid place {found.name} is acquired by {told}; waiting up to {timeout:g} s "
                    "for it to be released")
            if time.monotonic() >= deadline:
                raise PlaceBusy(f"labgrid place {found.name} is still acquired by {found.acquired} after "
                                f"{timeout:g} s; try again later, or raise [lab] acquire_timeout_s")
            await asyncio.sleep(poll)
        say(f"hanbench: acquired labgrid place {found.name}")
        try:
            ports = await _served_ports(session, found.name, serve_timeout, poll)
        except BaseException:
            await _release_in(session, found.name)
            raise
        power = {name: {"driver": "labgrid", "model": entry.args["model"], "host": entry.args["host"],
                        "index": int(entry.args["index"])}
                 for (name, cls), entry in session.get_target_resources(found).items() if cls == POWER_CLASS}
        return AcquiredPlace(found.name, coordinator, ports, power)


def _place(session: Any, pattern: str) -> Any:
    from labgrid.remote.client import Error

    try:
        return session.get_place(pattern)
    except Error as exc:
        known = ", ".join(sorted(session.places)) or "none"
        raise PlaceProblem(f"labgrid: {exc}; places on the coordinator: {known}") from None


async def _served_ports(session: Any, place: str, timeout: float, poll: float) -> dict[str, str]:
    """Every serial port of the acquired place as a URL, once its exporter serves them all."""
    from labgrid.resource import NetworkSerialPort
    from labgrid.util.proxy import proxymanager

    deadline = time.monotonic() + timeout
    while True:
        resources = session.get_target_resources(_place(session, place))
        serial = {name: entry for (name, cls), entry in resources.items() if cls == SERIAL_CLASS}
        waiting = sorted(name for name, entry in serial.items() if not (entry.avail and entry.args.get("port")))
        if not waiting:
            break
        if time.monotonic() >= deadline:
            raise PortsNotServed(f"labgrid place {place}: the exporter did not serve serial port(s) "
                                 f"{', '.join(waiting)} within {timeout:g} s (unplugged, or ser2net missing on "
                                 "the exporter's host?)")
        await asyncio.sleep(poll)
    urls = {}
    for name, entry in serial.items():
        port = NetworkSerialPort(None, name, **entry.args)
        port.extra = entry.extra
        host, number = proxymanager.get_host_and_port(port)
        urls[name] = f"rfc2217://{host}:{number}?ign_set_control" if port.protocol == "rfc2217" \
            else f"socket://{host}:{number}"
    return urls


async def _release(place: str, coordinator: str) -> None:
    async with _session(coordinator) as session:
        await _release_in(session, place)


async def _release_in(session: Any, place: str) -> None:
    from labgrid.remote.generated import labgrid_coordinator_pb2

    await session.stub.ReleasePlace(labgrid_coordinator_pb2.ReleasePlaceRequest(placename=place))
    await session.sync_with_coordinator()


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """While the place is held, SIGTERM raises KeyboardInterrupt, so the release still runs."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
