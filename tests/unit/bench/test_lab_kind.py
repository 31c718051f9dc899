"""The ``lab`` kind against twin hardware: a stick and boards on ptys that the bench only finds.

A :class:`~hanbench.twin.lab_rig.LabRig` stands outside the bench with the premises of
``bench/twin.toml`` (an EZSP twin, a board per device, devices that join by themselves), and
a lab bench file in ``tmp_path`` binds the stick and every board by ``path``. Everything
from there on is what a lab with real hardware runs: ``hanbench bench check``,
``open_bench`` and the conformance suite. Real time.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import zigpy.types as zt
from click.testing import CliRunner

from fixture_files import BENCH_FILES, ROOT, bench_copy
from hanbench.bench.bench import Bench, open_bench
from hanbench.bench.bench_config import BenchConfig
from hanbench.bench.bench_file import load_bench
from hanbench.bench.kinds.boards import BoardDevice, BoardNotAtStart
from hanbench.cli import main
from hanbench.cli.bench import BAD_FILE_OR_PORT, BOARD_PROBLEM
from hanbench.devices import DeviceSettings, GsmeTiming
from hanbench.gbcs.keystore import KeyStore
from hanbench.radio.addresses import eui64_of
from hanbench.twin.lab_rig import LabRig, RigDevice

TWIN = BENCH_FILES / "twin.toml"
FIRST_NWK = 0x1000
#: Long enough for the ESME's image over bellows and the twin (seconds on an idle machine).
TRANSFER_S = 60.0


def rig_devices(config: BenchConfig) -> list[RigDevice]:
    return [RigDevice(entry.name, entry.type, DeviceSettings(
                entity_id=entry.id, nwk=FIRST_NWK + index, supplier=entry.responsible_supplier,
                running_version=entry.firmware_version, hardware_version=entry.hardware_version))
            for index, entry in enumerate(config.devices)]


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[LabRig]:
    config = load_bench(TWIN)
    async with LabRig(rig_devices(config), tmp_path / "rig", start=config.start, keystore=KeyStore(config.keystore),
                      gsme_timing=GsmeTiming(wake_interval_s=config.timing.gsme_wake_interval_s)) as opened:
        yield opened


def lab_bench(tmp_path: Path, rig: LabRig, *, boards: dict[str, str] | None = None,
              keys: dict[str, str] | None = None) -> Path:
    """``bench/twin.toml`` as a lab bench on ``rig``: its ports bound by path; ``boards`` overrides some,
    ``keys`` adds a line (``install_code = ...``) to some devices."""
    text = TWIN.read_text()
    replacements = {
        text[text.index("[air]"):text.index("[timing]")]: "",  # a lab's air is real
        'kind = "twin"': 'kind = "lab"',
        "# port: left out, so the twin's own pty is used; a path match would name another one":
            f'port = {{ path = "{rig.stick_path}" }}',
    }
    for name in rig.boards:
        path = (boards or {}).get(name, str(rig.board_path(name)))
        key = f"{keys[name]}\n" if keys and name in keys else ""
        replacements[f'name = "{name}"\n'] = f'name = "{name}"\nboard = {{ path = "{path}" }}\n{key}'
    return bench_copy(tmp_path, "twin.toml", replace=replacements, file_name="lab.toml")


async def bench_check(file: Path) -> tuple[int, str]:
    """``hanbench bench check FILE``, run while the rig serves its ports on this loop."""
    result = await asyncio.to_thread(CliRunner().invoke, main, ["bench", "check", str(file)])
    return result.exit_code, result.output


async def test_bench_check_finds_the_stick_and_identifies_every_board(tmp_path: Path, rig: LabRig) -> None:
    status, output = await bench_check(lab_bench(tmp_path, rig))
    assert status == 0, output
    lines = output.splitlines()
    assert lines[0].split() == ["ROLE", "NAME", "PORT", "IDENTITY", "FIRMWARE"]
    assert lines[1].split()[:3] == ["ezsp", "radio", rig.stick_path]
    esme = next(line for line in lines if line.startswith("esme "))
    assert str(rig.board_path("esme")) in esme and "esme 00-DB-12-34-56-78-91-00" in esme and "0x00000001" in esme
    assert len(lines) == 7


async def test_bench_check_names_a_board_bound_to_another_device(tmp_path: Path, rig: LabRig) -> None:
    status, output = await bench_check(lab_bench(tmp_path, rig, boards={"hcalcs": str(rig.board_path("ihd"))}))
    assert status == BOARD_PROBLEM, output
    errors = [line for line in output.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and errors[0].startswith("error: hcalcs: ")
    assert "is a ihd" in errors[0] and "says hcalcs" in errors[0]


async def test_bench_check_names_a_missing_port(tmp_path: Path, rig: LabRig) -> None:
    status, output = await bench_check(lab_bench(tmp_path, rig, boards={"gsme": str(tmp_path / "unplugged")}))
    assert status == BAD_FILE_OR_PORT, output
    errors = [line for line in output.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and errors[0].startswith("error: gsme: ") and "unplugged" in errors[0]


def keyed_devices(bench: Bench, rig: LabRig) -> dict[str, zt.KeyData]:
    """The transient link keys the rig's NCP was given (``importTransientKey``), by device name.

    bellows also imports the well-known key for the wildcard EUI-64 before a plain permit:
    only the bench's devices count here.
    """
    keys = rig.stick.ncp.transient_keys
    return {entry.name: keys[eui64_of(entry.id)] for entry in bench.config.devices if eui64_of(entry.id) in keys}


async def update_esme(bench: Bench) -> None:
    """SR 11.1 then SR 11.3 of version 2 on the ESME, each checked on what its board reports."""
    esme = bench.device("esme")
    assert isinstance(bench._premises.devices["esme"], BoardDevice)  # the board's reports, not the emulator's
    await bench.supplier.update_firmware(bench.image(esme, 2), [esme])  # SR 11.1
    alert = await bench.supplier.wait_alert(0x8F72, device=esme, timeout=TRANSFER_S)
    assert esme.state.held_version == 2 and esme.state.held_hash == alert.calculated_hash
    await bench.supplier.activate_firmware(esme, alert.calculated_hash)  # SR 11.3
    assert esme.state.running_version == 2 and esme.state.running_hash == alert.calculated_hash


async def test_an_esme_update_runs_through_the_lab_kind_twice_on_one_network(tmp_path: Path, rig: LabRig) -> None:
    file = lab_bench(tmp_path, rig)
    async with open_bench(file) as bench:
        assert bench.kind.value == "lab"
        await update_esme(bench)
        assert keyed_devices(bench, rig) == {}  # no device has a key of its own: all join with the network's
    # A second session finds the devices in the session's network and lets none join again; the ESME,
    # left running version 2, is brought back to the bench file's start first, so the update works again
    async with open_bench(file) as bench:
        assert bench.device("esme").state.running_version == 1
        await update_esme(bench)
        assert keyed_devices(bench, rig) == {}
    assert [request.op for request in rig.boards["esme"].requests_seen].count("restore_factory_image") == 1


async def test_a_board_that_cannot_go_back_to_the_start_stops_the_bench_naming_it(tmp_path: Path,
                                                                                   rig: LabRig) -> None:
    file = lab_bench(tmp_path, rig)
    async with open_bench(file) as bench:
        await update_esme(bench)
    rig.boards["esme"].without_op("restore_factory_image")  # a build of protocol 1.1
    with pytest.raises(BoardNotAtStart, match=r"board esme: it runs firmware version 2, the bench file starts it "
                                              r"at 1, and it cannot restore its factory image .*unknown_op.*: "
                                              r"flash firmware version 1 or set the device's firmware_version"):
        async with open_bench(file):
            pass


async def test_a_board_whose_factory_image_is_not_the_start_stops_the_bench_naming_it(tmp_path: Path,
                                                                                      rig: LabRig) -> None:
    file = lab_bench(tmp_path, rig)
    async with open_bench(file) as bench:
        await update_esme(bench)
    board = rig.boards["esme"]
    board.backend.restore_factory_image = lambda: None  # type: ignore[method-assign]  # a board flashed with v2
    with pytest.raises(BoardNotAtStart, match=r"board esme: after restoring its factory image it runs firmware "
                                              r"version 2, the bench file starts it at 1: flash firmware version 1 "
                                              r"or set the device's firmware_version"):
        async with open_bench(file):
            pass
    assert [request.op for request in board.requests_seen].count("restore_factory_image") == 1


async def test_a_device_with_an_install_code_joins_with_its_derived_key(tmp_path: Path, rig: LabRig) -> None:
    # Zigbee 3.0 Base Device Behaviour spec, install code example, and its link key
    file = lab_bench(tmp_path, rig, keys={"esme": 'install_code = "83FED3407A939723A5C639B26916D505C3B5"'})
    async with open_bench(file) as bench:
        # bellows' permit_with_link_key sent importTransientKey: the NCP holds the ESME's key, and no other device's
        assert keyed_devices(bench, rig) == {
            "esme": zt.KeyData.convert("66:b6:90:09:81:e1:ee:3c:a4:20:6b:6b:86:1c:02:bb")}
        await update_esme(bench)


async def test_the_conformance_suite_runs_on_the_lab_bench(tmp_path: Path, rig: LabRig) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(ROOT),
        "-c", str(ROOT / "pyproject.toml"), "--bench", str(lab_bench(tmp_path, rig)),
        str(ROOT / "tests" / "conformance" / "test_whole_flow.py"),
        cwd=ROOT, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    output, _ = await process.communicate()
    text = output.decode()
    assert process.returncode == 0, text
    # every whole-flow test but the GSME wake-cycle one, which needs virtual time (emu only)
    assert "4 passed, 1 skipped" in text, text
