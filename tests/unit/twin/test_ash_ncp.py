"""The NCP side of ASH, driven byte by byte with bellows' own frame classes."""

from __future__ import annotations

import asyncio

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
import pytest

from hanbench.twin.ash import AshNcp, LinkState

FLAG = bytes([Reserved.FLAG])
T_RX_ACK = 0.05


def wire(frame: AshFrame) -> bytes:
    """A frame as the host puts it on the wire."""
    return AshProtocol._stuff_bytes(frame.to_bytes()) + FLAG


def data_frame(frm_num: int, payload: bytes, *, ack_num: int = 0, re_tx: bool = False) -> DataFrame:
    return DataFrame(frm_num=frm_num, re_tx=re_tx, ack_num=ack_num, ezsp_frame=payload)


class Host:
    """The host end of the wire: what the NCP wrote, decoded back into frames."""

    def __init__(self, *, max_attempts: int = 5) -> None:
        self.raw = bytearray()
        self.delivered: list[bytes] = []
        self.resets = 0
        self.ncp = AshNcp(
            deliver=self.delivered.append,
            on_reset=self._reset,
            t_rx_ack=T_RX_ACK,
            max_attempts=max_attempts,
        )
        self.ncp.attach(self.raw.extend)

    def _reset(self) -> None:
        self.resets += 1

    def frames(self) -> list[AshFrame]:
        """Every frame written so far, and forget them."""
        chunks = bytes(self.raw).split(FLAG)
        self.raw.clear()
        return [parse_frame(AshProtocol._unstuff_bytes(c)) for c in chunks if c]

    def send(self, data: bytes) -> None:
        self.ncp.data_received(data)

    def connect(self) -> None:
        self.send(bytes([Reserved.CANCEL]) * 32 + wire(RstFrame()))
        assert self.frames() == [RStackFrame(version=2, reset_code=t.NcpResetCode.RESET_SOFTWARE)]


async def wait_for_frames(host: Host, count: int, timeout: float = 2.0) -> list[AshFrame]:
    frames: list[AshFrame] = []
    async with asyncio.timeout(timeout):
        while len(frames) < count:
            await asyncio.sleep(T_RX_ACK / 5)
            frames.extend(host.frames())
    return frames


def test_rst_resets_the_chip_and_answers_rstack() -> None:
    host = Host()
    host.connect()
    assert host.resets == 1
    assert host.ncp.state is LinkState.CONNECTED


def test_in_sequence_data_is_acked_and_delivered_once() -> None:
    host = Host()
    host.connect()
    host.send(wire(data_frame(0, b"\x00\x00\x01\x05\x00")))
    host.send(wire(data_frame(1, b"\x01\x00\x01\x05\x00")))
    assert host.frames() == [
        AckFrame(res=0, ncp_ready=0, ack_num=1),
        AckFrame(res=0, ncp_ready=0, ack_num=2),
    ]
    assert host.delivered == [b"\x00\x00\x01\x05\x00", b"\x01\x00\x01\x05\x00"]


def test_bad_crc_is_naked_once_and_not_executed() -> None:
    host = Host()
    host.connect()
    good = data_frame(0, b"\x00\x00\x01\x05\x00").to_bytes()
    corrupted = good[:-1] + bytes([good[-1] ^ 0x01])
    host.send(AshProtocol._stuff_bytes(corrupted) + FLAG)
    # A second corrupt frame in the same reject condition earns no second NAK
    host.send(AshProtocol._stuff_bytes(corrupted) + FLAG)
    assert host.frames() == [NakFrame(res=0, ncp_ready=0, ack_num=0)]
    assert host.delivered == []
    # The host resends: accepted, and the reject condition is over
    host.send(wire(data_frame(0, b"\x00\x00\x01\x05\x00", re_tx=True)))
    assert host.frames() == [AckFrame(res=0, ncp_ready=0, ack_num=1)]
    assert host.delivered == [b"\x00\x00\x01\x05\x00"]
    assert host.ncp.stats.naks_sent == 1


def test_garbage_runs_are_skipped() -> None:
    host = Host()
    host.connect()
    garbage = bytes([0xFF, 0xC7, 0x55, 0xAA]) * 8 + FLAG  # no frame type parses
    line_noise = b"\x00\x01\x02" + bytes([Reserved.SUBSTITUTE]) + b"\x03" + FLAG
    cancelled = b"\x10\x20\x30" + bytes([Reserved.CANCEL])
    host.send(garbage + line_noise + cancelled + wire(data_frame(0, b"\x00\x00\x01\x05\x00")))
    assert host.frames() == [AckFrame(res=0, ncp_ready=0, ack_num=1)]
    assert host.delivered == [b"\x00\x00\x01\x05\x00"]
    assert host.ncp.stats.discarded == 2


def test_out_of_sequence_data_is_naked() -> None:
    host = Host()
    host.connect()
    host.send(wire(data_frame(3, b"\x00\x00\x01\x05\x00")))
    assert host.frames() == [NakFrame(res=0, ncp_ready=0, ack_num=0)]
    assert host.delivered == []


def test_retransmitted_duplicate_is_acked_but_not_executed_twice() -> None:
    host = Host()
    host.connect()
    host.send(wire(data_frame(0, b"cmd")))
    # Our ACK got lost: the host sends frame 0 again, flagged as a retransmission
    host.send(wire(data_frame(0, b"cmd", re_tx=True)))
    assert host.frames() == [AckFrame(res=0, ncp_ready=0, ack_num=1)] * 2
    assert host.delivered == [b"cmd"]
    assert host.ncp.stats.duplicates == 1


async def test_lost_ack_leads_to_retransmission_until_acked() -> None:
    host = Host()
    host.connect()
    host.ncp.send(b"response")
    first, again = await wait_for_frames(host, 2)
    assert first == data_frame(0, b"response")
    assert again == data_frame(0, b"response", re_tx=True)
    host.send(wire(AckFrame(res=0, ncp_ready=0, ack_num=1)))
    host.ncp.send(b"next")
    (following,) = await wait_for_frames(host, 1)
    assert following == data_frame(1, b"next")
    assert host.ncp.stats.retransmissions >= 1


async def test_nak_makes_the_ncp_resend_at_once() -> None:
    host = Host()
    host.connect()
    host.ncp.send(b"response")
    host.ncp.send(b"queued")
    assert host.frames() == [data_frame(0, b"response")]
    host.send(wire(NakFrame(res=0, ncp_ready=0, ack_num=0)))
    assert host.frames() == [data_frame(0, b"response", re_tx=True)]
    # Acknowledging it releases the queued frame, carrying the host's numbering
    host.send(wire(data_frame(0, b"cmd", ack_num=1)))
    assert host.frames() == [AckFrame(res=0, ncp_ready=0, ack_num=1), data_frame(1, b"queued", ack_num=1)]


async def test_too_many_ack_timeouts_fail_the_link_with_error() -> None:
    host = Host(max_attempts=2)
    host.connect()
    host.ncp.send(b"response")
    frames = await wait_for_frames(host, 3)
    assert frames[-1] == ErrorFrame(
        version=2, reset_code=t.NcpResetCode.ERROR_EXCEEDED_MAXIMUM_ACK_TIMEOUT_COUNT
    )
    assert host.ncp.state is LinkState.FAILED
    # A failed NCP executes nothing and says why until the host resets it
    host.send(wire(data_frame(0, b"cmd")))
    assert host.frames() == [
        ErrorFrame(version=2, reset_code=t.NcpResetCode.ERROR_EXCEEDED_MAXIMUM_ACK_TIMEOUT_COUNT)
    ]
    assert host.delivered == []
    host.connect()
    assert host.ncp.state is LinkState.CONNECTED


def test_data_before_the_first_rst_gets_error() -> None:
    host = Host()
    host.send(wire(data_frame(0, b"cmd")))
    assert host.frames() == [ErrorFrame(version=2, reset_code=t.NcpResetCode.RESET_POWER_ON)]
    assert host.delivered == []


def test_frozen_chip_answers_nothing() -> None:
    host = Host()
    host.connect()
    host.ncp.frozen = True
    host.send(wire(data_frame(0, b"cmd")))
    host.send(wire(RstFrame()))
    assert host.frames() == []
    assert host.delivered == []


@pytest.mark.parametrize("byte", [Reserved.XON, Reserved.XOFF])
def test_flow_control_bytes_inside_a_frame_are_ignored(byte: int) -> None:
    host = Host()
    host.connect()
    raw = wire(data_frame(0, b"cmd"))
    host.send(raw[:2] + bytes([byte]) + raw[2:])
    assert host.delivered == [b"cmd"]
