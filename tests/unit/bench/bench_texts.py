"""Bench file texts for the tests, and small helpers to edit them and find lines."""

from __future__ import annotations

# A small valid emu bench: three devices (so that devices[2] exists), a supplier, two RSAs.
BASE = """\
[bench]
name = "t"
kind = "emu"
policy = "mp207"
start = 2026-01-05T09:00:00Z
keystore = "../keys"
images = "../images"

[hub]
id = "00-DB-12-34-56-78-91-02"

[[users]]
id = "90-B3-D5-1F-30-01-00-00"
name = "SUPPLIER"
roles = ["import_supplier", "gas_supplier"]

[[users]]
id = "90-B3-D5-1F-30-0A-00-01"
name = "RSA"
roles = ["rsa"]

[[appointments]]
supplier = "90-B3-D5-1F-30-01-00-00"
rsa = "90-B3-D5-1F-30-0A-00-01"

[[devices]]
type = "esme"
id = "00-DB-12-34-56-78-91-00"
import_supplier = "90-B3-D5-1F-30-01-00-00"
firmware_version = 1
hardware_version = 0x1111

[[devices]]
type = "gsme"
id = "00-DB-12-34-56-78-91-01"
gas_supplier = "90-B3-D5-1F-30-01-00-00"
firmware_version = 1
hardware_version = 0x1111

[[devices]]
type = "ihd"
id = "00-DB-12-34-56-78-91-06"
import_supplier = "90-B3-D5-1F-30-01-00-00"
firmware_version = 1
hardware_version = 0x1111
"""


def edit(text: str, old: str, new: str, count: int = 1) -> str:
    """Replace the ``count``-th occurrence of ``old`` (which must be there) by ``new``."""
    parts = text.split(old)
    assert len(parts) > count, f"{old!r} occurs fewer than {count} times"
    return old.join(parts[:count]) + new + old.join(parts[count:])


def line_of(text: str, fragment: str) -> int:
    """The 1-based line of the first line containing ``fragment``."""
    for number, line in enumerate(text.splitlines(), start=1):
        if fragment in line:
            return number
    raise AssertionError(f"{fragment!r} not in the text")
