"""The ``twin`` kind: ``bench/twin.toml`` opened for real, bellows on a pty, devices on board ports.

Real time. Each test gets its own session folder, so the network is formed afresh.
"""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import pytest
import zigpy.types as zt

from hanbench import Bench, BenchDevice, UserAlert
from hanbench.bench.bench import open_bench
from hanbench.bench.bench_config import BenchConfig
from hanbench.bench.bench_file import load_bench
from hanbench.bench.kinds.boards import WrongBoard, check_identity
from hanbench.gbcs.codes import AlertCode
from hanbench.gbcs.cs06 import (
    ActivateFirmware, ActivationResult, ExecutionOutcome, activate_firmware_command, read_activate_firmware_response,
)
from hanbench.gbcs.device_types import DeviceType
from hanbench.hardware.control import BoardControl
from hanbench.hardware.protocol import AlertEvent, Identity, StateEvent
from hanbench.radio.addresses import eui64_of
from hanbench.radio.stick import DATABASE_NAME

ROOT = Path(__file__).resolve().parents[3]
TWIN = ROOT / "bench" / "twin.toml"


def twin_config(tmp_path: Path) -> BenchConfig:
    return dataclasses.replace(load_bench(TWIN), sessions=tmp_path / "sessions")


async def test_the_twin_bench_comes_up_on_bellows_and_board_ports(tmp_path: Path) -> None:
    config = twin_config(tmp_path)
    config = dataclasses.replace(config, timing=dataclasses.replace(config.timing, board_reset_timeout_s=7.5))
    async with open_bench(config) as bench:
        assert [d.name for d in bench.devices] == ["esme", "gsme", "ppmid", "hcalcs", "ihd"]
        assert {d.control.reset_timeout for d in bench._premises.devices.values()} == {7.5}  # type: ignore[attr-defined]
        assert type(bench.comms_hub.app).__module__ == "hanbench.radio.stick"  # type: ignore[attr-defined]
        for device in bench.devices:
            assert device.state.running_version == 1 and not device.state.holds_image
        esme = bench._premises.devices["esme"]  # type: ignore[attr-defined]
        state = await esme.settle()
        assert state.joined and state.network is not None
        assert state.network.pan_id == bench.comms_hub.app.state.network_info.pan_id  # type: ignore[attr-defined]
    assert (config.sessions / config.name / "radio" / DATABASE_NAME).is_file()


async def esme_receives_the_update(bench: Bench) -> tuple[BenchDevice, BoardControl, UserAlert]:
    """SR 11.1 of version 2 to the ESME: the device, its board's control port, its receipt alert."""
    esme = bench.device("esme")
    control = bench._premises.devices["esme"].control  # type: ignore[attr-defined]
    await bench.supplier.update_firmware(bench.image(esme, 2), [esme])
    return esme, control, await bench.supplier.wait_alert(0x8F72, device=esme, timeout=30)


async def test_an_update_reaches_the_esme_through_bellows_and_its_board_reports_it(tmp_path: Path) -> None:
    async with open_bench(twin_config(tmp_path)) as bench:
        esme, control, alert = await esme_receives_the_update(bench)
        # The board's state event says what the device decided; the bench's view follows it
        await control.wait_event(lambda e: isinstance(e, StateEvent) and e.state.held_image is not None,
                                 timeout=10)
        assert esme.state.held_version == 2 and esme.state.held_hash == alert.calculated_hash
        await bench.supplier.activate_firmware(esme, alert.calculated_hash)
        await control.wait_event(lambda e: isinstance(e, StateEvent) and e.state.firmware_version == 2, timeout=10)
        assert esme.state.running_version == 2 and not esme.state.holds_image


async def test_the_acbs_mac_on_a_cs06_is_verified_by_the_boards_device(tmp_path: Path) -> None:
    # The hardware code path end to end: bellows, the twin NCP, the air, the board's device.
    async with open_bench(twin_config(tmp_path)) as bench:
        esme, control, receipt = await esme_receives_the_update(bench)
        counter = bench.dcc.inventory.next_originator_counter(bench.supplier.id)
        bare = activate_firmware_command(bench.supplier.id, esme.id, ActivateFirmware(receipt.calculated_hash, counter),
                                         bench.dcc.keystore.private_key(bench.supplier.id))
        unanswered = asyncio.ensure_future(bench.hub.send_command(bare))
        # Without the ACB's MAC the board's device refuses it (0x8F3D, over its control port too) ...
        event = await control.wait_event(lambda e: isinstance(e, AlertEvent)
                                         and e.alert.alert_code == AlertCode.TRUSTED_SOURCE_AUTHENTICATION_FAILURE,
                                         timeout=10)
        assert event.alert.message_code == 0x1000 and esme.state.running_version == 1
        unanswered.cancel()
        await asyncio.gather(unanswered, return_exceptions=True)
        # ... and the very same CS06 with the ACB's MAC around it verifies there and activates.
        macd = bench.dcc.acb.protect(bare)
        response = await asyncio.wait_for(bench.hub.send_command(macd), 10)
        assert read_activate_firmware_response(response) == ExecutionOutcome(ActivationResult.SUCCESS,
                                                                             (2).to_bytes(4, "big"))
        await control.wait_event(lambda e: isinstance(e, StateEvent) and e.state.firmware_version == 2, timeout=10)
        assert esme.state.running_version == 2


def test_a_board_that_is_another_device_is_refused(tmp_path: Path) -> None:
    config = twin_config(tmp_path)
    esme, gsme = config.device("esme"), config.device("gsme")
    identity = Identity(role=DeviceType.GSME, eui64=gsme.id, manufacturer="m", model="m", hardware_version=1,
                        firmware_version=1, held_image=None, protocol="1.0")
    with pytest.raises(WrongBoard, match="is a gsme .* but the bench file says esme"):
        check_identity(esme, identity, "/dev/ttyUSB3")
    check_identity(gsme, identity, "/dev/ttyUSB3")


async def test_a_device_with_a_link_key_is_let_in_with_it(tmp_path: Path) -> None:
    config = twin_config(tmp_path)
    key = "00-11-22-33-44-55-66-77-88-99-AA-BB-CC-DD-EE-FF"
    ihd = dataclasses.replace(config.device("ihd"), link_key=key)
    config = dataclasses.replace(config, devices=tuple(ihd if d.name == "ihd" else d for d in config.devices))
    async with open_bench(config) as bench:
        held = bench._premises.stick.ncp.transient_keys  # type: ignore[attr-defined]
        # The twin NCP was given the IHD's key (importTransientKey) and no other device's
        assert {d.name: held[eui64_of(d.id)] for d in config.devices if eui64_of(d.id) in held} == {
            "ihd": zt.KeyData(bytes.fromhex("00112233445566778899aabbccddeeff"))}
        assert (await bench._premises.devices["ihd"].settle()).joined  # type: ignore[attr-defined]
