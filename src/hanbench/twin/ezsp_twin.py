"""`EzspTwin`: an emulated EZSP coordinator stick that unmodified bellows talks to.

It stacks the pieces a real stick has: a UART (`transport`), ASH framing (`ash`), the
EZSP command set of an EmberZNet 7.4 NCP (`ezsp_ncp`), flash (`ncp_state`) and a
radio on the bench's virtual air (`air_link`). Fault controls let tests pull the
stick, hang it or reset it under a running bellows.

The twin runs in real time on the caller's event loop: pty I/O and bellows' serial
thread cannot follow a virtual clock.
"""

from __future__ import annotations

import logging
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import bellows.types as t

from hanbench.errors import BadInput
from hanbench.radio.air import VirtualAir
from hanbench.radio.stick_config import stick_zigpy_config
from hanbench.twin.air_link import CoordinatorRadio
from hanbench.twin.ash import AshNcp, AshStats, LinkState
from hanbench.twin.ezsp_ncp import EzspNcp
from hanbench.twin.ncp_state import NvramStore
from hanbench.twin.transport import PtyPort, SerialPort, TcpPort

LOGGER = logging.getLogger(__name__)

PTY_LINK_NAME = "ncp.tty"
Transport = Literal["pty", "socket"]
BENCH_CHANNEL = 15


def bellows_app_config(port: str, *, channel: int = BENCH_CHANNEL) -> dict[str, Any]:
    """zigpy config for a bellows `ControllerApplication` on a twin's port.

    It is the config the bench gives a real EZSP stick (`radio.stick_config`): every
    background task off, so what a test sees on the serial link is what it asked for and
    shutdown leaves nothing running, and bellows' serial link on the caller's event loop,
    so a vanished port cannot leave `app.shutdown()` waiting on bellows' stopped thread.
    """
    return stick_zigpy_config(port, radio="ezsp", channel=channel)


class EzspTwin:
    """An emulated coordinator NCP on a pty (default) or a loopback `socket://` port.

    `state_dir` holds the NCP's NVRAM (so a network formed in one run is resumed in the
    next) and, for a pty, the stable symlink bellows opens. `air` is where the radio
    transmits; `None` leaves the coordinator alone on its channel.
    """

    def __init__(
        self,
        air: VirtualAir | None = None,
        *,
        state_dir: Path,
        transport: Transport = "pty",
        tcp_port: int = 0,
        eui64: str | None = None,
    ) -> None:
        if transport not in ("pty", "socket"):
            raise BadInput(f"unknown twin transport {transport!r}: use 'pty' or 'socket'")
        self.state_dir = Path(state_dir)
        self.store = NvramStore(self.state_dir, eui64=eui64)
        self.ash = AshNcp(deliver=self._ezsp_frame, on_reset=self._chip_reset)
        self.ncp = EzspNcp(self.store, self.ash.send)
        self.radio = (
            CoordinatorRadio(air, self.ncp, chip_running=self._chip_running)
            if air is not None
            else None
        )
        self._port: SerialPort = (
            PtyPort(self.ash, self.state_dir / PTY_LINK_NAME)
            if transport == "pty"
            else TcpPort(self.ash, tcp_port)
        )
        self._open = False

    def _ezsp_frame(self, data: bytes) -> None:
        self.ncp.link.frame_received(data)

    def _chip_reset(self) -> None:
        self.ncp.power_on_reset()

    def _chip_running(self) -> bool:
        return self.ash.state is LinkState.CONNECTED and not self.ash.frozen

    # -- lifecycle --------------------------------------------------------------

    async def start(self) -> None:
        """Power the stick and open its port."""
        await self._port.open()
        self._open = True
        if self.radio is not None:
            self.radio.attach()

    async def stop(self) -> None:
        """Close the port, leave the air, and keep the NVRAM on disk."""
        if self.radio is not None:
            self.radio.detach()
        if self._open:
            self._port.close()
            self._open = False
        self.ncp.power_on_reset()
        self.store.save()

    async def __aenter__(self) -> EzspTwin:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def port(self) -> str:
        """What to give bellows as `device.path`."""
        return self._port.url

    @property
    def link_stats(self) -> AshStats:
        """ASH counters (retransmissions, NAKs, discarded frames...)."""
        return self.ash.stats

    # -- fault controls ---------------------------------------------------------

    def close_port(self) -> None:
        """Pull the stick: the port disappears and the chip loses power."""
        if not self._open:
            return
        self._port.close()
        self.ash.power_off()
        self._open = False

    async def reopen_port(self) -> None:
        """Plug the stick back in: same path or URL, chip waiting for the host's RST."""
        if self._open:
            return
        await self._port.open()
        self._open = True

    def freeze(self) -> None:
        """Hang the chip: it reads nothing and answers nothing until `thaw` or `reset`."""
        self.ash.frozen = True

    def thaw(self) -> None:
        """Let a frozen chip run again, where it stopped."""
        self.ash.frozen = False

    def reset(self, code: t.NcpResetCode = t.NcpResetCode.RESET_SOFTWARE) -> None:
        """Reset the chip on its own (watchdog, brown-out): RAM is lost and an
        unsolicited RSTACK goes to the host, which bellows treats as a failure."""
        LOGGER.info("Resetting the twin NCP (%s)", code.name)
        self.ash.reset(code)
