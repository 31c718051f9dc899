"""Steps the conformance tests share, written only against the scripting API.

A module of the suite's package rather than a ``conftest.py``: the suite's tests import it by
its full name, wherever the suite is collected from (the installed package, or the
repository's ``tests/conformance``, which imports the suite's modules).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

from hanbench import Bench, BenchDevice, BenchUser, Outcome, UserAlert
from hanbench.gbcs.cs06 import ActivateFirmware, activate_firmware_command
from hanbench.gbcs.frame import GbcsMessage
from hanbench.gbcs.image import UpgradeImage, parse_image
from hanbench.packaged import default_bench_file

#: The version every sample device starts with, and the one the sample images bring.
OLD, NEW = 0x00000001, 0x00000002



def receipt_wait_s(bench: Bench) -> float:
    """Long enough for any device to receive an image, a GSME included: what the bench gives a
    supplier's systems to wait for the receipt alert (an hour on emu, where it is free;
    seconds on the twin, where it is real time and a GSME wakes every few seconds)."""
    return bench.config.timing.receipt_alert_wait_s


def quiet_s(bench: Bench) -> float:
    """How long to watch a device receive nothing, or leave a command unanswered: two GSME wake
    intervals, in which an awake device would have answered or started any transfer and a
    sleepy one woken (free in virtual time)."""
    return 2 * bench.config.timing.gsme_wake_interval_s


async def distribute(bench: Bench, user: BenchUser, device: BenchDevice) -> UserAlert:
    """SR 11.1 of the NEW sample image to ``device`` by ``user``; the supplier's receipt alert."""
    result = await user.update_firmware(bench.image(device, NEW), [device])
    assert result.target(device.id).outcome is Outcome.DISTRIBUTED, result
    alert = await bench.supplier_of(device).wait_alert(0x8F72, device=device, timeout=receipt_wait_s(bench))
    assert device.state.held_version == NEW
    assert alert.calculated_hash == device.state.held_hash
    return alert


def image_signed_by(bench: Bench, device: BenchDevice, signer: BenchUser) -> UpgradeImage:
    """The NEW sample image for ``device``, signed by ``signer`` instead of the device's supplier."""
    key = bench.dcc.keystore.private_key(signer.id)
    return parse_image(bench.image(device, NEW)).signed(key)


def relabelled_image(bench: Bench, device: BenchDevice, **header: int) -> bytes:
    """The NEW sample image for ``device`` with OTA header fields rewritten on the way
    (``file_version=0xFFFFFFFE``...). GBCS signs the Manufacturer Image only, so the supplier's
    signature still verifies: only what the signed content says gives the lie away."""
    image = parse_image(bench.image(device, NEW))
    return dataclasses.replace(image, header=dataclasses.replace(image.header, **header)).to_bytes()


def cs06(bench: Bench, signer: BenchUser, device: BenchDevice, image_hash: bytes, *,
         execution: dt.datetime | None = None) -> GbcsMessage:
    """A CS06 from ``signer`` under the signer's next DCC originator counter, signed by ``signer``
    and MAC'd by the DCC's Access Control Broker, as the DCC would build it."""
    counter = bench.dcc.inventory.next_originator_counter(signer.id)
    command = ActivateFirmware(image_hash, counter, execution)
    key = bench.dcc.keystore.private_key(signer.id)
    return bench.dcc.acb.protect(activate_firmware_command(signer.id, device.id, command, key))


def emu_bench_file(folder: Path, *, name: str, policy: str | None = None) -> Path:
    """The embedded default bench rewritten into ``folder``: its own name and sessions there,
    paths absolute, and ``policy`` if given. A bench of its own, so its database is the test's."""
    source = default_bench_file()
    text = source.read_text("utf-8")
    for key, path in (("keystore", "../fixtures/keys"), ("images", "../firmware_images"),
                      ("sessions", "../sessions")):
        target = folder / "sessions" if key == "sessions" else source.parent / path
        text = _replace_once(text, f'{key} = "{path}"', f'{key} = "{target.resolve()}"')
    text = _replace_once(text, 'name = "emu"', f'name = "{name}"')
    if policy is not None:
        text = _replace_once(text, 'policy = "mp207"', f'policy = "{policy}"')
    file = folder / f"{name}.toml"
    file.write_text(text, "utf-8")
    return file


def _replace_once(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, f"the embedded bench file no longer has exactly one {old!r}"
    return text.replace(old, new)
