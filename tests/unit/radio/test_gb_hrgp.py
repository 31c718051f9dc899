"""GB-HRGP framing: the three frames a sleepy device and the CH exchange, and the malformed ones."""

from __future__ import annotations

import pytest

from hanbench.errors import BadInput
from hanbench.radio.gb_hrgp import HrgpFormatError, HrgpFrame, HrgpKind


@pytest.mark.parametrize(
    ("frame", "wire"),
    [
        (HrgpFrame(HrgpKind.GET), b"\x01"),
        (HrgpFrame(HrgpKind.GET_RESPONSE, b"\xdf\x09", 3), b"\x02\x03\xdf\x09"),
        (HrgpFrame(HrgpKind.GET_RESPONSE, b"", 0), b"\x02\x00"),
        (HrgpFrame(HrgpKind.PUT, b"\xdd\x00"), b"\x03\xdd\x00"),
        (HrgpFrame(None, b"\xdf\x09"), b"\xdf\x09"),
    ],
)
def test_gb_hrgp_frames_round_trip(frame: HrgpFrame, wire: bytes) -> None:
    assert frame.encode() == wire
    assert HrgpFrame.decode(wire) == frame


@pytest.mark.parametrize("wire", [b"\x01\x00", b"\x02"])
def test_malformed_gb_hrgp_frames_are_refused(wire: bytes) -> None:
    with pytest.raises(HrgpFormatError):
        HrgpFrame.decode(wire)


def test_get_response_counts_at_most_255_remaining() -> None:
    with pytest.raises(BadInput):
        HrgpFrame(HrgpKind.GET_RESPONSE, b"", 256).encode()
