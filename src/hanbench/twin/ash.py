"""The NCP side of ASH (UG101), the framing layer between bellows and an EZSP NCP.

bellows only implements the host side. This module plays the chip: it answers RST
with RSTACK, acknowledges (or NAKs) the host's DATA frames, numbers its own DATA
frames and retransmits them until the host acknowledges, and goes to the FAILED
state with an ERROR frame after too many unacknowledged attempts, as EmberZNet does.

Frame classes, CRC, byte stuffing and data randomisation are bellows' own
(`bellows.ash`), so both ends agree on the wire format by construction.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
import dataclasses
import enum
import logging

from bellows.ash import (
    AckFrame,
    AshFrame,
    AshProtocol,
    DataFrame,
    ErrorFrame,
    NakFrame,
    Reserved,
    RstFrame,
    RStackFrame,
    parse_frame,
)
import bellows.types as t

LOGGER = logging.getLogger(__name__)

ASH_VERSION = 0x02

# Time the NCP waits for the host to acknowledge one of its DATA frames before
# sending it again. UG101 lets the NCP adapt this between 0.4 and 3.2 s; a fixed value
# at the fast end keeps the twin responsive and is well above what bellows needs to ACK.
T_RX_ACK = 0.4

# Attempts per DATA frame (the first one plus retransmissions) before the NCP gives up,
# sends ERROR and enters the FAILED state (UG101 ACK_TIMEOUTS).
MAX_ATTEMPTS = 5

# The host receive window is one frame (bellows `TX_K`); the NCP sends one at a time.
SEQ_MODULO = 8

# A frame longer than this between two flags cannot be ASH: EZSP frames are at most
# ~220 bytes, stuffed at most twice that.
MAX_FRAME_BYTES = 512


class LinkState(enum.Enum):
    """Where the link is in the UG101 state machine."""

    # Powered up or reset, waiting for the host's RST
    RESET_PENDING = "reset pending"
    CONNECTED = "connected"
    # Gave up after too many ACK timeouts; only RST brings it back
    FAILED = "failed"


@dataclasses.dataclass
class AshStats:
    """Counters a lab can read after a run to see how clean the serial link was."""

    data_received: int = 0
    data_sent: int = 0
    retransmissions: int = 0
    duplicates: int = 0
    naks_sent: int = 0
    naks_received: int = 0
    discarded: int = 0
    resets: int = 0


class AshNcp:
    """NCP end of one ASH link.

    `write` puts bytes on the wire (the twin's port); `deliver` receives every
    in-sequence EZSP frame from the host exactly once; `on_reset` runs when the host's
    RST resets the chip, before RSTACK goes out, so the EZSP layer can drop its RAM state.
    """

    def __init__(
        self,
        *,
        deliver: Callable[[bytes], None],
        on_reset: Callable[[], None],
        t_rx_ack: float = T_RX_ACK,
        max_attempts: int = MAX_ATTEMPTS,
    ) -> None:
        self._deliver = deliver
        self._on_reset = on_reset
        self._t_rx_ack = t_rx_ack
        self._max_attempts = max_attempts
        self._write: Callable[[bytes], None] | None = None
        self._buffer = bytearray()
        self._discarding = False
        self.state = LinkState.RESET_PENDING
        self._reset_code = t.NcpResetCode.RESET_POWER_ON
        self._rx_seq = 0
        self._tx_seq = 0
        self._rejecting = False
        self._tx_queue: deque[bytes] = deque()
        self._in_flight: DataFrame | None = None
        self._attempts = 0
        self._retx_timer: asyncio.TimerHandle | None = None
        self.frozen = False
        self.stats = AshStats()

    # -- wiring -----------------------------------------------------------------

    def attach(self, write: Callable[[bytes], None]) -> None:
        """Connect the link to a port (a host opened it)."""
        self._write = write
        self._buffer.clear()
        self._discarding = False

    def detach(self) -> None:
        """The port went away: nothing more can be sent until `attach`."""
        self._write = None
        self._cancel_retx()

    # -- receiving --------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        """Bytes from the host: split on flags, honour CANCEL/SUBSTITUTE/XON/XOFF."""
        if self.frozen:
            return

        for byte in data:
            if byte == Reserved.FLAG:
                frame, self._buffer = bytes(self._buffer), bytearray()
                if self._discarding:
                    self._discarding = False
                    self.stats.discarded += 1
                elif frame:
                    self._frame_bytes_received(frame)
            elif byte == Reserved.CANCEL:
                # Everything since the previous flag is void (bellows sends 32 of these
                # before RST to flush a half-received frame)
                self._buffer.clear()
                self._discarding = False
            elif byte == Reserved.SUBSTITUTE:
                # A UART error: the frame in progress is corrupt, drop it at the next flag
                self._discarding = True
            elif byte in (Reserved.XON, Reserved.XOFF):
                # Software flow control is handled by the UART, never part of a frame
                continue
            elif len(self._buffer) >= MAX_FRAME_BYTES:
                self._buffer.clear()
                self._discarding = True
            else:
                self._buffer.append(byte)

    def _frame_bytes_received(self, stuffed: bytes) -> None:
        try:
            raw = AshProtocol._unstuff_bytes(stuffed)
            frame = parse_frame(raw)
        except Exception as exc:  # noqa: BLE001  (bellows raises several types)
            self.stats.discarded += 1
            LOGGER.debug("Discarding unparsable frame %s: %s", stuffed.hex(), exc)
            # A corrupted DATA frame must be NAKed so the host resends it at once
            looks_like_data = bool(stuffed) and stuffed[0] & DataFrame.MASK == 0
            if looks_like_data and self.state is LinkState.CONNECTED:
                self._reject()
            return

        self._frame_received(frame)

    def _frame_received(self, frame: AshFrame) -> None:
        if isinstance(frame, RstFrame):
            self.reset(t.NcpResetCode.RESET_SOFTWARE)
            return

        if self.state is not LinkState.CONNECTED:
            # The host talks to a chip that has not been (re)synchronised: tell it so
            LOGGER.debug("Frame %r while %s, answering ERROR", frame, self.state.value)
            if isinstance(frame, DataFrame):
                self._send_frame(ErrorFrame(version=ASH_VERSION, reset_code=self._reset_code))
            return

        if isinstance(frame, DataFrame):
            # Take the frame in before its piggybacked ACK releases our next DATA frame,
            # so that frame acknowledges this one
            self._data_frame_received(frame)
            self._ack_received(frame.ack_num)
        elif isinstance(frame, AckFrame):
            self._ack_received(frame.ack_num)
        elif isinstance(frame, NakFrame):
            self._nak_received(frame.ack_num)
        else:
            # RSTACK and ERROR only ever travel from the NCP to the host
            LOGGER.debug("Ignoring %r from the host", frame)

    def _data_frame_received(self, frame: DataFrame) -> None:
        if frame.frm_num == self._rx_seq:
            self._rx_seq = (self._rx_seq + 1) % SEQ_MODULO
            self._rejecting = False
            self.stats.data_received += 1
            self._send_frame(AckFrame(res=0, ncp_ready=0, ack_num=self._rx_seq))
            self._deliver(frame.ezsp_frame)
        elif frame.re_tx and frame.frm_num == (self._rx_seq - 1) % SEQ_MODULO:
            # Our ACK was lost and the host resent a frame we already executed:
            # acknowledge again but never run the command twice
            self.stats.duplicates += 1
            self._send_frame(AckFrame(res=0, ncp_ready=0, ack_num=self._rx_seq))
        else:
            LOGGER.debug("Out-of-sequence %r, expected %d", frame, self._rx_seq)
            self._reject()

    def _reject(self) -> None:
        """NAK once per reject condition, as UG101 demands, so NAKs do not pile up."""
        if self._rejecting:
            return
        self._rejecting = True
        self.stats.naks_sent += 1
        self._send_frame(NakFrame(res=0, ncp_ready=0, ack_num=self._rx_seq))

    def _ack_received(self, ack_num: int) -> None:
        pending = self._in_flight
        if pending is None or ack_num != (pending.frm_num + 1) % SEQ_MODULO:
            return
        self._in_flight = None
        self._cancel_retx()
        self._pump()

    def _nak_received(self, ack_num: int) -> None:
        pending = self._in_flight
        if pending is not None and ack_num == pending.frm_num:
            self.stats.naks_received += 1
            self._cancel_retx()
            self._transmit_in_flight()
        else:
            # A NAK may also acknowledge the frame before the one it asks for
            self._ack_received(ack_num)

    # -- sending ----------------------------------------------------------------

    def send(self, ezsp_frame: bytes) -> None:
        """Queue an EZSP frame (a response or a callback) for the host."""
        if self.state is not LinkState.CONNECTED:
            LOGGER.debug("Link %s, dropping EZSP frame %s", self.state.value, ezsp_frame.hex())
            return
        self._tx_queue.append(ezsp_frame)
        self._pump()

    def _pump(self) -> None:
        if self._in_flight is not None or not self._tx_queue or self.frozen:
            return
        self._in_flight = DataFrame(
            frm_num=self._tx_seq, re_tx=False, ack_num=self._rx_seq,
            ezsp_frame=self._tx_queue.popleft(),
        )
        self._tx_seq = (self._tx_seq + 1) % SEQ_MODULO
        self._attempts = 0
        self._transmit_in_flight()

    def _transmit_in_flight(self) -> None:
        assert self._in_flight is not None
        if self._attempts >= self._max_attempts:
            self._fail(t.NcpResetCode.ERROR_EXCEEDED_MAXIMUM_ACK_TIMEOUT_COUNT)
            return
        frame = self._in_flight.replace(re_tx=self._attempts > 0, ack_num=self._rx_seq)
        if self._attempts > 0:
            self.stats.retransmissions += 1
        self._attempts += 1
        self.stats.data_sent += 1
        self._send_frame(frame)
        self._retx_timer = asyncio.get_running_loop().call_later(
            self._t_rx_ack, self._ack_timeout
        )

    def _ack_timeout(self) -> None:
        self._retx_timer = None
        if self._in_flight is not None and not self.frozen:
            LOGGER.debug("No ACK for frame %d, retransmitting", self._in_flight.frm_num)
            self._transmit_in_flight()

    def _cancel_retx(self) -> None:
        if self._retx_timer is not None:
            self._retx_timer.cancel()
            self._retx_timer = None

    def _send_frame(self, frame: AshFrame) -> None:
        if self._write is None or self.frozen:
            return
        self._write(AshProtocol._stuff_bytes(frame.to_bytes()) + bytes([Reserved.FLAG]))

    # -- resets and failure -----------------------------------------------------

    def _clear_link(self) -> None:
        self._cancel_retx()
        self._tx_queue.clear()
        self._in_flight = None
        self._rx_seq = 0
        self._tx_seq = 0
        self._rejecting = False

    def reset(self, code: t.NcpResetCode) -> None:
        """The chip resets (host RST, watchdog, power): RAM state goes, RSTACK goes out."""
        self._clear_link()
        self.frozen = False
        self._on_reset()
        self.state = LinkState.CONNECTED
        self._reset_code = code
        self.stats.resets += 1
        self._send_frame(RStackFrame(version=ASH_VERSION, reset_code=code))

    def power_off(self) -> None:
        """The chip loses power: it will answer nothing but RST once it is back."""
        self._clear_link()
        self.state = LinkState.RESET_PENDING
        self._reset_code = t.NcpResetCode.RESET_POWER_ON
        self._on_reset()

    def _fail(self, code: t.NcpResetCode) -> None:
        LOGGER.warning("ASH link failed (%s), sending ERROR", code.name)
        self._clear_link()
        self.state = LinkState.FAILED
        self._reset_code = code
        self._send_frame(ErrorFrame(version=ASH_VERSION, reset_code=code))
