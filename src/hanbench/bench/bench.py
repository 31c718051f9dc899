"""The bench a lab engineer drives: ``async with open_bench("bench/emu.toml") as bench: ...``.

:func:`open_bench` loads the bench file, reconciles the DCC's inventory in the session
database with it, has the bench's kind assemble the premises (on ``emu``: the virtual air,
the CH's coordinator, the CH, every device joined and interviewed), starts the DCC on top,
and records the session. Leaving the block shuts everything down with no task left and
closes the session record as ``passed``, ``failed`` (an assertion or a failed check left the
block) or ``aborted`` (anything else did).

Everything a script touches is the same for every kind; only :attr:`Bench.emulator` is
emu-only, and says so when asked elsewhere.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

from hanbench.bench.bench_config import BenchConfig, NotOnBench
from hanbench.bench.bench_file import load_bench
from hanbench.bench.events import EventStream
from hanbench.bench.kinds import kind_strategy
from hanbench.bench.premises import AssemblyContext, EmulatorControls, Kind, NotOnEmulator, Premises
from hanbench.bench.readiness import check_emulated, check_keys, check_one_premises
from hanbench.bench.record import Session
from hanbench.bench.seeding import reconcile_inventory
from hanbench.bench.site import (
    BenchDevice, DeviceRef, Site, VirtualTimeRequired, announced, running_loop_for, session_for, start_dcc,
)
from hanbench.bench.users import BenchUser
from hanbench.clock import BenchClock
from hanbench.dcc.dcc import Dcc
from hanbench.dcc.hub_port import HubPort
from hanbench.dcc.inventory import Inventory
from hanbench.errors import BadInput
from hanbench.gbcs.althan_bundle import package_image
from hanbench.gbcs.device_types import DeviceType, PpmidVariant
from hanbench.gbcs.image import parse_image
from hanbench.gbcs.keystore import KeyStore
from hanbench.radio.capture import AirCapture
from hanbench.radio.pcap import capture_target

__all__ = ["Bench", "BenchDevice", "CaptureUnavailable", "DeviceRef", "VirtualTimeRequired", "capture_path",
           "open_bench", "open_capture"]


class Bench(Site):
    """An open bench of one premises. Build it with :func:`open_bench`."""

    def __init__(self, config: BenchConfig, clock: BenchClock, events: EventStream, dcc: Dcc, premises: Premises,
                 session: Session) -> None:
        super().__init__(config, clock, events, dcc, session)
        self._premises = premises
        self._devices = {name: BenchDevice(device) for name, device in premises.devices.items()}

    # -- devices ------------------------------------------------------------------------------

    @property
    def devices(self) -> tuple[BenchDevice, ...]:
        """Every HAN device, in bench-file order."""
        return tuple(self._devices.values())

    def device(self, handle: DeviceRef) -> BenchDevice:
        """A device by name, by type (when only one has it) or by entity ID."""
        if isinstance(handle, BenchDevice):
            return handle
        return self._devices[self.config.device(handle).name]

    def has_device(self, device_type: DeviceType | str) -> bool:
        return bool(self.config.devices_of(device_type))

    def bridge_package(self, device: DeviceRef, file_version: int,
                       components: Mapping[PpmidVariant, bytes] | None = None) -> bytes:
        """What ``device``'s Supplier sends an Alt HAN bridge it sees on the SMI (SR 11.4) under the
        premises' MP170 option: the bridge's own sample image of ``file_version`` when it fetches
        for no other bridge, else a bundle of it and the image of every bridge on site it fetches
        for, signed as a whole with the Supplier's key (:func:`hanbench.gbcs.althan_bundle.package_image`).

        ``components`` replaces the sample image of a bridge type in the bundle (bytes of an OTA
        Upgrade Image): a Supplier that packaged the wrong firmware for one bridge.
        """
        config = self.device(device).config
        variant = config.ppmid_variant
        if config.type is not DeviceType.ALT_HAN or variant is None:
            raise BadInput(f"{config.name} is a {config.type.value}, not an Alt HAN bridge")
        on_site = [d.ppmid_variant for d in self.config.devices if d.type is DeviceType.ALT_HAN and d.ppmid_variant]
        package = self.config.alt_han.option.package_of(variant, on_site)
        chosen = dict(components or {})
        images = {v: chosen.get(v) or self.image(self._bridge_name(v), file_version) for v in package}
        if len(images) == 1 and not chosen:
            return images[variant]
        key = self.dcc.keystore.private_key(config.responsible_supplier)
        return package_image({v: parse_image(data, signed=False) for v, data in images.items()}, variant,
                             key).to_bytes()

    def _bridge_name(self, variant: PpmidVariant) -> str:
        bridge = self.config.bridge(variant)
        if bridge is None:
            raise NotOnBench(f"bench {self.name!r} has no {variant}")
        return bridge.name

    @property
    def hub(self) -> HubPort:
        """The CH as the DCC talks to it (distribute an image, send a command), past the DCC.

        The direct hub path, on every kind: it is how a conformance test puts in front of a
        device what the DCC would refuse to send (an image signed by someone else, a CS06
        signed with the wrong key or replayed), to check that the device refuses it too.
        """
        return self._premises.hub

    @property
    def comms_hub(self) -> object:
        """The kind's CH object (``CommsHub`` on emu), for tests that look inside the hub."""
        return self._premises.comms_hub

    # -- users ------------------------------------------------------------------------------

    @property
    def supplier(self) -> BenchUser:
        """The responsible supplier of the premises' devices (there must be exactly one)."""
        found = {d.responsible_supplier for d in self.config.devices}
        if len(found) != 1:
            names = ", ".join(sorted(str(s) for s in found)) or "none"
            raise NotOnBench(f"bench {self.name!r} has no single supplier (its devices' suppliers: {names}); "
                             "use bench.supplier_of(device)")
        return self._users[found.pop()]

    # -- emulator ----------------------------------------------------------------------------

    @property
    def emulator(self) -> EmulatorControls:
        """Fault injection and stimuli (link loss, waking a GSME): emu only."""
        controls = self._premises.controls
        if controls is None:
            raise NotOnEmulator(f"emulator controls need an emu bench (virtual time, fault injection); "
                                f"active bench {self.config.file} is {self.kind}")
        return controls


class CaptureUnavailable(BadInput):
    """A capture was asked of a bench whose air is real radio, which hanbench cannot see."""


def capture_path(config: BenchConfig, path: Path | str) -> Path:
    """``path`` made absolute, if a capture of ``config``'s air can be written there.

    Only emu and twin benches have a virtual air (a bench file gives ``[air]`` to those
    alone); a lab bench's frames never pass through hanbench.
    """
    if config.air is None:
        raise CaptureUnavailable(f"{config.file} is a {config.kind} bench, whose air is real radio: capture the "
                                 "real air with a sniffer; hanbench cannot see it")
    return capture_target(path)


def open_capture(config: BenchConfig, path: Path | str) -> AirCapture:
    """A pcap capture of ``config``'s virtual air into ``path`` (see :mod:`hanbench.radio.capture`)."""
    return AirCapture(capture_path(config, path))


@contextlib.asynccontextmanager
async def open_bench(bench_file: Path | str | BenchConfig, *, events: EventStream | None = None,
                     session: Session | None = None,
                     capture: Path | str | AirCapture | None = None) -> AsyncIterator[Bench]:
    """Open the bench of ``bench_file`` (a path or a loaded config) for one session.

    ``events`` and ``session`` let a caller that runs many benches (the pytest plugin) keep
    one event stream and one session record across them (and hold the bench's lock); by
    default the bench has its own stream, takes the lock, and records its own session in
    ``config.database_path``.

    ``capture`` writes every frame of the virtual air to a pcap file: a path (the file
    appears there when the bench closes, however the session ended), or an
    :class:`~hanbench.radio.capture.AirCapture` the caller shares across benches and closes.
    """
    config = bench_file if isinstance(bench_file, BenchConfig) else load_bench(bench_file)
    check_one_premises(config)
    check_emulated(config)
    check_keys(config)
    kind = kind_strategy(config.kind)
    loop = running_loop_for(config, kind.VIRTUAL_TIME)
    with _own_capture(config, capture) as air_capture:
        clock = BenchClock(config.start, loop=loop)
        stream = events if events is not None else EventStream(clock.now)
        # A session of the bench's own is marked aborted if assembly fails before the block runs.
        with session_for(config, clock, stream, session) as recording:
            async with _assembled(config, kind, clock, stream, recording, air_capture) as bench:
                yield bench


def _own_capture(config: BenchConfig, capture: Path | str | AirCapture | None
                 ) -> contextlib.AbstractContextManager[AirCapture | None]:
    """The capture to use: opened here (and closed on leaving) for a path, else as given."""
    if capture is None or isinstance(capture, AirCapture):
        return contextlib.nullcontext(capture)
    return open_capture(config, capture)


@contextlib.asynccontextmanager
async def _assembled(config: BenchConfig, kind: Kind, clock: BenchClock, stream: EventStream,
                     session: Session, capture: AirCapture | None) -> AsyncIterator[Bench]:
    """The premises and the DCC over it, torn down in reverse order of building."""
    async with contextlib.AsyncExitStack() as stack:
        inventory = stack.enter_context(Inventory(config.database_path))
        reconcile_inventory(inventory, config)
        keystore = KeyStore(config.keystore)
        with announced(stack, config, clock, stream):
            premises = await stack.enter_async_context(
                kind.assemble(AssemblyContext(config, clock, stream, keystore, capture)))
        dcc = start_dcc(stack, config, inventory, keystore, premises.hub, clock, stream)
        yield Bench(config, clock, stream, dcc, premises, session)
