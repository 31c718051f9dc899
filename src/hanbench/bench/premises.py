"""What a bench kind assembles, and the one interface the bench drives it through.

A *premises* is the Comms Hub and its HAN devices, however they exist: emulated on a virtual
air (``emu``), on the hardware code path with emulated sticks and boards (``twin``), or real
(``lab``). Each kind is a small strategy module in :mod:`hanbench.bench.kinds` that turns a
:class:`~hanbench.bench.bench_config.BenchConfig` into a :class:`Premises`; everything above it
(the DCC, the scripting API, the pytest plugin, the conformance suite) is the same for all
kinds, which is what lets one test file run on every bench.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Collection, Mapping
from contextlib import AbstractAsyncContextManager
from typing import Protocol, runtime_checkable

from hanbench.bench.bench_config import BenchConfig, DeviceConfig
from hanbench.bench.events import EventStream
from hanbench.clock import BenchClock
from hanbench.dcc.hub_port import HubPort
from hanbench.errors import BadInput
from hanbench.gbcs.keystore import KeyStore
from hanbench.gbcs.occupant_data import DisplayedData
from hanbench.radio.air import VirtualAir
from hanbench.radio.capture import AirCapture
from hanbench.timing import HUB_RESTART_S


@dataclasses.dataclass(frozen=True)
class DeviceState:
    """What a device runs and holds, as the device itself reports it.

    ``running_hash`` is ``None`` for the firmware a device was started with from a version
    number alone; ``pending_activation_at`` is the execution date-time of a future-dated CS06
    the device accepted and has not yet carried out. ``alerts_pending`` and
    ``responses_pending`` count what the device signed and could not send yet, and
    ``next_retry_at`` is when an awake device tries again (``None``: nothing failed, or a
    sleepy device, which tries at its next wake); a kind that cannot see them reports 0 and
    ``None``.
    """

    running_version: int
    running_hash: bytes | None
    held_version: int | None
    held_hash: bytes | None
    pending_activation_at: dt.datetime | None
    alerts_pending: int = 0
    responses_pending: int = 0
    next_retry_at: dt.datetime | None = None

    @property
    def holds_image(self) -> bool:
        return self.held_version is not None


class DeviceUnderTest(Protocol):
    """One HAN device of the premises, as a kind exposes it."""

    @property
    def config(self) -> DeviceConfig:
        """The device's entry in the bench file."""
        ...

    @property
    def state(self) -> DeviceState:
        """Its firmware state now."""
        ...


@runtime_checkable
class ShowsOccupantData(Protocol):
    """A device kind that can read what an IHD or PPMID shows of the occupant (SECMP0056)."""

    @property
    def display(self) -> DisplayedData:
        """What the device shows now; :class:`BadInput` for a type that shows none."""
        ...


class EmulatorControls(Protocol):
    """Fault injection and stimuli only an emulated premises can offer."""

    def set_link_loss(self, device: DeviceConfig, loss: float) -> None:
        """Lose ``loss`` (0..1) of the frames between the CH and ``device``, both ways."""
        ...

    async def wake(self, device: DeviceConfig) -> None:
        """Run a sleepy device's wake cycle now instead of at its next wake interval."""
        ...

    async def power_cycle(self, device: DeviceConfig, *, off_s: float = 0.0) -> None:
        """Switch ``device`` off, wait ``off_s`` seconds of bench time, and on again; returns
        once it is back on the air.

        What it holds in RAM is lost (its tunnel, a download's request under way, the timer of
        a future-dated activation); what it keeps in non-volatile memory stays: its running
        and held firmware, its originator counters, a pending future-dated activation (which
        then fires at its date-time, or at once if that passed while it was off, once), its
        unsent signed alerts and responses, and the bytes of a download so far. It comes back
        without joining, announces itself, and resumes: a new tunnel, its outbox, a GSME's
        wake cycle (a first wake at once).
        """
        ...

    async def restart_hub(self, *, down_s: float = HUB_RESTART_S) -> None:
        """Restart the CH: off the air for ``down_s`` seconds of bench time, then back.

        It loses what it holds in RAM (the transfers under way, which the devices resume from
        their own offsets; its waits for devices, which start afresh) and keeps its image
        store, device log, GSME mirrors, sleepy queue and tunnels; when it is back it tells
        every awake device an image still waits for with Image Notify again. Returns once the
        CH is back.
        """
        ...

    def drop_alerts(self, device: DeviceConfig, codes: Collection[int] | None = None) -> None:
        """From now on, ``device`` raises alerts but never sends them: every alert (``codes``
        None) or those whose code is in ``codes``; an empty ``codes`` sends every alert again.

        Seed 000: suppliers' systems must cope with the firmware download alert not arriving
        in 40% of cases. Responses to commands are never dropped, only alerts.
        """
        ...


class Premises(Protocol):
    """An assembled premises: the CH as the DCC sees it, and the devices."""

    @property
    def hub(self) -> HubPort:
        """The Comms Hub, through the one interface the DCC uses."""
        ...

    @property
    def comms_hub(self) -> object:
        """The kind's own CH object, for tests that look inside it."""
        ...

    @property
    def devices(self) -> Mapping[str, DeviceUnderTest]:
        """Every device, by its bench-file name."""
        ...

    @property
    def controls(self) -> EmulatorControls | None:
        """The emulator's controls, or None on a kind without them."""
        ...


@dataclasses.dataclass(frozen=True)
class AssemblyContext:
    """Everything a kind needs to build a premises: the file, the clock, the stream, the keys."""

    config: BenchConfig
    clock: BenchClock
    events: EventStream
    keystore: KeyStore
    #: The pcap capture of the virtual air, when the bench was opened with one.
    capture: AirCapture | None = None

    def watch_air(self, air: VirtualAir, *, pan_id: int) -> Callable[[], None]:
        """Capture ``air`` if a capture was asked for; returns what stops it.

        A kind whose premises sits on a virtual air calls this once its network is formed
        (``pan_id`` goes into every frame's MAC header).
        """
        if self.capture is None:
            return lambda: None
        return self.capture.watch(air, self.clock, pan_id=pan_id)


class Kind(Protocol):
    """A bench kind's strategy module (``hanbench.bench.kinds.<kind>``)."""

    #: Whether the kind's actors all live in the event loop, so it runs in virtual time.
    VIRTUAL_TIME: bool

    def assemble(self, context: AssemblyContext) -> AbstractAsyncContextManager[Premises]:
        """The premises, built and joined on entry, shut down with no task left on exit."""
        ...


class NotOnEmulator(BadInput):
    """An emulator control was asked of a bench that is not emulated."""
