"""The emulated firmware header: its documented bytes, and typed errors for a damaged one."""

from __future__ import annotations

import pytest

from hanbench.gbcs.device_types import DeviceType
from hanbench.gbcs.emulated_firmware import EmulatedFirmware, is_emulated_firmware, read_emulated_firmware
from hanbench.gbcs.errors import ImageFormatError

# The layout the module docstring documents, written out by hand: magic, format 1, HCALCS (3),
# version 0x00000102, hardware 0x0010..0x0020, payload.
DOCUMENTED = bytes.fromhex("48424657" "01" "03" "00000102" "0010" "0020") + b"payload"


def test_encodes_the_documented_layout() -> None:
    facts = EmulatedFirmware(DeviceType.HCALCS, 0x102, 0x10, 0x20, b"payload")
    assert facts.encode() == DOCUMENTED
    assert read_emulated_firmware(DOCUMENTED) == facts


def test_a_real_manufacturer_image_stays_opaque() -> None:
    assert not is_emulated_firmware(b"I am a GFI ESME[] firmware image")
    assert read_emulated_firmware(b"") is None


def test_runs_on_only_its_type_and_hardware_range() -> None:
    facts = read_emulated_firmware(DOCUMENTED)
    assert facts.runs_on(DeviceType.HCALCS, 0x10) and facts.runs_on(DeviceType.HCALCS, 0x20)
    assert not facts.runs_on(DeviceType.HCALCS, 0x21)
    assert not facts.runs_on(DeviceType.ESME, 0x10)


@pytest.mark.parametrize(("data", "message"), [
    (DOCUMENTED[:4], r"format version at offset 4: needs 1 bytes"),
    (DOCUMENTED[:9], r"firmware version at offset 6: needs 4 bytes"),
    (DOCUMENTED[:4] + b"\x02" + DOCUMENTED[5:], r"format version at offset 4: 2 is not 1"),
    (DOCUMENTED[:5] + b"\x09" + DOCUMENTED[6:], r"device type at offset 5: code 9 is not one of 1 esme"),
    (DOCUMENTED[:10] + bytes.fromhex("00300020"), r"hardware range 0x0030\.\.0x0020 is inverted"),
])
def test_a_damaged_header_is_an_image_format_error(data: bytes, message: str) -> None:
    with pytest.raises(ImageFormatError, match=message):
        read_emulated_firmware(data)
