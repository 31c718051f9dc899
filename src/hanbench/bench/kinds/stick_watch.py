"""Keeping the CH's coordinator stick: a pulled or hung stick is the bench's fault, and it passes.

A lab's stick fails in two ways the radio library does not handle for the bench:

* its port goes away (the stick is pulled, its USB hub resets): bellows reports the lost
  connection at once and then does nothing more;
* the NCP hangs and answers nothing: bellows notices only when a command it happens to send
  runs out of ASH retries (about 9 s), and on an idle bench it sends none.

:class:`StickWatch` follows the application: every ``probe_interval_s`` it asks the stick
zigpy's watchdog question (bellows: ``readCounters``) and calls it hung if no answer comes
within ``probe_timeout_s``, so a hung NCP is reported within ``probe_interval_s +
probe_timeout_s`` of going silent (bench file ``[radio]``). A lost connection or a hung NCP
is published as :class:`~hanbench.bench.events.InfrastructureFaultRaised` (component
``stick``), never as anything a device did. The watch then reconnects the same application:
it waits for the port to be back (by the same match, so a stick that returns under a new
path is found), starts the radio again on the network it had, and publishes
:class:`~hanbench.bench.events.InfrastructureRestored`. Devices and everything the CH
registered on the application stay, so a device that was downloading an image re-requests
its block and carries on from the offset it had.

Bringing the stick back is bounded by ``reconnect_timeout_s`` (bench file ``[radio]``). A
stick still away or still silent then is lost for this session: the watch publishes
:class:`~hanbench.bench.events.InfrastructureLost` with the port it waited for, how long and
the last error, which ends every wait of the bench at once with that message
(:class:`~hanbench.bench.events.BenchAborted`) instead of each running into its own timeout,
and leaving the watch raises :class:`StickLost`, so the session ends aborted with it.
"""

from __future__ import annotations

import asyncio
import logging

import zigpy.application
import zigpy.config as conf

from hanbench.bench.events import EventStream, InfrastructureFaultRaised, InfrastructureLost, InfrastructureRestored
from hanbench.errors import InfrastructureFault
from hanbench.hardware.ports import PortMatch, PortTimeout, wait_for_port

log = logging.getLogger(__name__)

COMPONENT = "stick"
#: Pause between two attempts to bring a stick back that did not start.
RETRY_S = 0.5


class StickLost(InfrastructureFault):
    """The stick did not come back within ``reconnect_timeout_s``; the session cannot go on."""


class StickWatch:
    """Reports ``app``'s stick failing and brings it back; an async context manager.

    ``port`` is how the stick's port is found again after it went away.
    """

    def __init__(self, app: zigpy.application.ControllerApplication, port: PortMatch, events: EventStream, *,
                 probe_interval_s: float, probe_timeout_s: float, reconnect_timeout_s: float) -> None:
        self._app = app
        self._port = port
        self._events = events
        self._interval = probe_interval_s
        self._timeout = probe_timeout_s
        self._reconnect_timeout = reconnect_timeout_s
        self._failed = asyncio.Event()
        self._closing = False
        self._task: asyncio.Task[None] | None = None
        self._lost: StickLost | None = None

    async def __aenter__(self) -> StickWatch:
        self._app.add_listener(self)
        self._task = asyncio.get_running_loop().create_task(self._run(), name="stick-watch")
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, *exc_info: object) -> None:
        self._closing = True
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._lost is not None and exc_type is None:
            raise self._lost  # a session whose waits all ended before the loss still did not run whole

    def connection_lost(self, exc: BaseException | None) -> None:
        """zigpy's listener call: the radio library lost its link to the stick."""
        self._fail(f"the connection to the stick was lost ({exc!r})")

    def _fail(self, why: str) -> None:
        if self._closing or self._failed.is_set():
            return
        self._failed.set()
        log.warning("stick: %s", why)
        self._events.publish(InfrastructureFaultRaised(component=COMPONENT, message=why))

    async def _run(self) -> None:
        while True:
            try:
                async with asyncio.timeout(self._interval):
                    await self._failed.wait()
            except TimeoutError:
                await self._probe()
            if self._failed.is_set():
                try:
                    await self._reconnect()
                except StickLost as lost:
                    self._lost = lost
                    log.error("stick: %s", lost)
                    self._events.publish(InfrastructureLost(component=COMPONENT, message=str(lost)))
                    return
                self._failed.clear()

    async def _probe(self) -> None:
        try:
            async with asyncio.timeout(self._timeout):
                await self._app.watchdog_feed()
        except TimeoutError:
            self._fail(f"the stick did not answer a liveness probe within {self._timeout:g} s (a hung NCP)")
        except Exception as exc:  # noqa: BLE001 - whatever the radio library raises, the stick failed
            self._fail(f"the stick failed a liveness probe ({type(exc).__name__}: {exc})")

    async def _reconnect(self) -> None:
        """Until the stick runs the network again: close what is left, find the port, start.

        Raises :class:`StickLost` once ``reconnect_timeout_s`` has passed without that.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._reconnect_timeout
        last = "none: the port never came back"
        while (remaining := deadline - loop.time()) > 0:
            try:
                async with asyncio.timeout(remaining):
                    await self._app.disconnect()
                    path = await wait_for_port(self._port, timeout=remaining)
                    self._app.config[conf.CONF_DEVICE][conf.CONF_DEVICE_PATH] = path
                    try:
                        await self._app.connect()
                        await self._app.initialize(auto_form=False)
                    except Exception as exc:  # noqa: BLE001 - a stick still away or still hung: try again
                        last = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                        log.info("stick: not back yet on %s (%s)", path, last)
                        await asyncio.sleep(RETRY_S)
                        continue
            except (TimeoutError, PortTimeout):
                break
            self._events.publish(InfrastructureRestored(component=COMPONENT, message=f"the stick runs again on {path}"))
            return
        raise StickLost(f"the stick on {self._port} did not come back within {self._reconnect_timeout:g} s "
                        f"([radio] reconnect_timeout_s); last error: {last}")
