"""The Comms Hub's radio on a real coordinator stick: a started zigpy application for ``[radio]``.

:func:`open_stick` builds the radio library's ``ControllerApplication`` (bellows for
``ezsp``; zigpy-znp and zigpy-deconz when installed, imported only when asked for), with:

* the bench's stick config (:mod:`hanbench.radio.stick_config`: background chores off,
  baud rate and flow control, bellows' serial link on the bench's loop);
* the Smart Energy fix of :mod:`hanbench.radio.se_profile`, as on the virtual radio;
* the coordinator's endpoints as the caller gives them (the CH's ESI endpoint on the SE
  profile, the GSME mirrors) *instead of* zigpy's Home Automation endpoint 1, which is what
  a GB device's service discovery must find;
* the network kept in the session folder. zigpy's database there remembers the devices;
  a backup of the network (channel, PAN ID, keys, frame counters) is added to it after every
  start. A stick that has lost its network (factory reset, or a spare) gets that network
  restored instead of a new one, and a stick that holds *another* network is refused rather
  than silently used, so a session always resumes the network its devices joined.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import logging
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import zigpy.application
import zigpy.config as conf
import zigpy.exceptions
import zigpy.zdo.types as zdo_t

from hanbench.errors import BadInput, InfrastructureFault
from hanbench.radio.se_profile import with_smart_energy
from hanbench.radio.stick_config import RADIO_TYPES, stick_zigpy_config
from hanbench.radio.shutdown import shut_down

LOGGER = logging.getLogger(__name__)

#: zigpy's database in the session folder: devices, and the backup of the network.
DATABASE_NAME = "zigpy.db"


@dataclasses.dataclass(frozen=True)
class _Library:
    module: str
    distribution: str
    extra: str | None


#: Where each radio library's application lives, and how to install it.
LIBRARIES: dict[str, _Library] = {
    "ezsp": _Library("bellows.zigbee.application", "bellows", None),
    "znp": _Library("zigpy_znp.zigbee.application", "zigpy-znp", "znp"),
    "deconz": _Library("zigpy_deconz.zigbee.application", "zigpy-deconz", "deconz"),
}


class RadioLibraryMissing(BadInput):
    """The bench file names a radio whose zigpy library is not installed."""


class StickUnavailable(InfrastructureFault):
    """The stick could not be opened or did not start its network (port busy, no answer)."""


class ForeignNetwork(BadInput):
    """The stick runs a network other than the one this bench's session folder belongs to."""


@dataclasses.dataclass(frozen=True)
class StickSettings:
    """Everything needed to start the CH's radio: what the bench file says, with the port found.

    ``path`` is the device path (``/dev/ttyUSB0``, a pty, ``socket://host:port``) the port
    match resolved to; ``state_dir`` is the session folder that keeps the network.
    """

    radio: str
    path: str
    state_dir: Path
    baudrate: int = 115200
    flow_control: str = "software"
    channel: int = 15

    @property
    def database_path(self) -> Path:
        return self.state_dir / DATABASE_NAME


def application_class(radio: str) -> type[zigpy.application.ControllerApplication]:
    """The radio library's application class for ``radio``, with the Smart Energy fix."""
    if radio not in RADIO_TYPES:
        raise BadInput(f"unknown radio type {radio!r}: use one of {', '.join(RADIO_TYPES)}")
    library = LIBRARIES[radio]
    try:
        module = importlib.import_module(library.module)
    except ModuleNotFoundError as exc:
        install = f"pip install 'hanbench[{library.extra}]'" if library.extra else f"pip install {library.distribution}"
        raise RadioLibraryMissing(
            f"[radio] type = \"{radio}\" needs the {library.distribution} library, which is not installed "
            f"({exc.name} is missing): {install}") from None
    app_class: type[zigpy.application.ControllerApplication] = module.ControllerApplication
    return _with_bench_endpoints(with_smart_energy(app_class))


def _with_bench_endpoints(
    app_class: type[zigpy.application.ControllerApplication],
) -> type[zigpy.application.ControllerApplication]:
    """``app_class`` registering only the endpoints of the config's ``additional_endpoints``.

    zigpy's own ``register_endpoints`` puts a Home Automation endpoint 1 on the coordinator;
    a CH's endpoint 1 is its Smart Energy ESI endpoint, so the caller's list replaces it.
    """

    async def register_endpoints(self: zigpy.application.ControllerApplication) -> None:
        for descriptor in self.config[conf.CONF_ADDITIONAL_ENDPOINTS]:
            await self.add_endpoint(descriptor)

    return type(f"Bench{app_class.__name__}", (app_class,), {
        "__module__": __name__, "register_endpoints": register_endpoints})


def _config(settings: StickSettings, endpoints: Sequence[zdo_t.SimpleDescriptor]) -> dict[str, Any]:
    config = stick_zigpy_config(
        settings.path, radio=settings.radio, baudrate=settings.baudrate, flow_control=settings.flow_control,
        database_path=str(settings.database_path), channel=settings.channel)
    config[conf.CONF_ADDITIONAL_ENDPOINTS] = [ep.as_dict() for ep in endpoints]
    config[conf.CONF_NWK_VALIDATE_SETTINGS] = True
    return config


async def start_stick(
    settings: StickSettings, endpoints: Sequence[zdo_t.SimpleDescriptor]
) -> zigpy.application.ControllerApplication:
    """A started application on the stick; the caller must ``await close_stick(app)``.

    Raises :class:`StickUnavailable` when the port cannot be opened or the stick does not
    start, :class:`ForeignNetwork` when it holds a network other than the session folder's.
    """
    if not any(ep.endpoint == 1 for ep in endpoints):
        raise BadInput("the coordinator needs an endpoint 1 (zigpy keeps its model strings there)")
    app_class = application_class(settings.radio)
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    config = _config(settings, endpoints)
    try:
        try:
            app = await _started(app_class, config, auto_form=False)
        except zigpy.exceptions.NetworkNotFormed:
            # Forming a network (or restoring the session's) resets the NCP, which forgets
            # the endpoints registered before; bellows does not register them again. So
            # form in one start and run in a second one, on the formed network.
            await close_stick(await _started(app_class, config, auto_form=True))
            app = await _started(app_class, config, auto_form=False)
    except zigpy.exceptions.NetworkSettingsInconsistent as exc:
        raise ForeignNetwork(
            f"the {settings.radio} stick on {settings.path} runs another network than the one kept in "
            f"{settings.database_path}: plug in this bench's stick, or delete that file to adopt the stick's "
            f"network (its devices must then join again)") from exc
    except (OSError, TimeoutError, zigpy.exceptions.ZigbeeException, zigpy.exceptions.RadioException) as exc:
        raise StickUnavailable(
            f"the {settings.radio} stick on {settings.path} did not start: {type(exc).__name__}: {exc}") from exc
    # The backup lands in the session folder's database: the next session can restore it
    app.backups.add_backup(app.backups.from_network_state())
    return app


async def _started(app_class: type[zigpy.application.ControllerApplication], config: dict[str, Any], *,
                   auto_form: bool) -> zigpy.application.ControllerApplication:
    """An application started on the stick, or nothing left open (database included) if it fails."""
    app = await app_class.new(config, auto_form=auto_form, start_radio=False)
    try:
        await app.startup(auto_form=auto_form)
    except BaseException:
        await close_stick(app)
        raise
    return app


async def close_stick(app: zigpy.application.ControllerApplication) -> None:
    """Shut the application down and wait for the tasks zigpy only cancels.

    After a lost connection this sends nothing and returns at once (see ``stick_config``).
    """
    await shut_down(app)


@contextlib.asynccontextmanager
async def open_stick(
    settings: StickSettings, endpoints: Sequence[zdo_t.SimpleDescriptor]
) -> AsyncIterator[zigpy.application.ControllerApplication]:
    """:func:`start_stick` as a context: the application, closed on exit."""
    app = await start_stick(settings, endpoints)
    try:
        yield app
    finally:
        await close_stick(app)
