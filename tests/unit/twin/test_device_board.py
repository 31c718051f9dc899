"""An emulated ESME behind `DeviceBoard`, served by `EmulatedBoard` on a pty, read by `BoardControl`.

Real pty I/O in real time: the bench's board client reads what the emulated device decided.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from fixture_files import SUPPLIER, bench_keys, sample_bytes
from hanbench.clock import BenchClock
from hanbench.devices import DeviceSettings, build_device
from hanbench.devices.firmware import ActivationTrigger
from hanbench.devices.han_device import GbcsHanDevice
from hanbench.devices.ihd import Ihd
from hanbench.devices.occupant_display import Notice
from hanbench.gbcs.codes import AlertCode
from hanbench.gbcs.cs06 import ActivationResult
from hanbench.gbcs.device_types import DeviceType
from hanbench.gbcs.entity import EntityId
from hanbench.gbcs.image import parse_image
from hanbench.gbcs.occupant_data import PREVIOUS_OCCUPANT
from hanbench.hardware.control import BoardControl
from hanbench.hardware.protocol import AlertEvent, Network, StateEvent
from hanbench.radio.air import VirtualAir
from hanbench.radio.device_management import TENANCY_CONTROL, Change
from hanbench.twin.board import EmulatedBoard
from hanbench.twin.device_board import DeviceBoard

KEYS = bench_keys()
OTHER_SUPPLIER = EntityId.parse("90-B3-D5-1F-30-02-00-00")
ESME = EntityId.parse("00-DB-12-34-56-78-91-00")
IHD = EntityId.parse("00-DB-12-34-56-78-91-06")
START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
NETWORK = Network(pan_id=0x1A2B, channel=15, nwk=0x1000)


@dataclasses.dataclass
class Rig:
    device: GbcsHanDevice
    backend: DeviceBoard
    board: EmulatedBoard
    control: BoardControl


def sample(version: int = 2) -> bytes:
    return sample_bytes(DeviceType.ESME, version)


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    clock = BenchClock(START)
    device = build_device(DeviceType.ESME, VirtualAir(), DeviceSettings(
        entity_id=ESME, nwk=0x1000, supplier=SUPPLIER, running_version=1, hardware_version=0x1111), clock, KEYS)
    assert isinstance(device, GbcsHanDevice)
    backend = DeviceBoard(device, clock)
    async with EmulatedBoard(backend, tmp_path, name="esme") as board:
        async with BoardControl(str(board.path), name="esme") as control:
            yield Rig(device, backend, board, control)
    await device.close()


async def test_identify_reports_the_emulated_device(rig: Rig) -> None:
    identity = await rig.control.identify()
    assert identity.role is DeviceType.ESME
    assert identity.eui64 == ESME
    assert (identity.firmware_version, identity.hardware_version) == (1, 0x1111)
    assert identity.held_image is None
    state = await rig.control.state()
    assert not state.joined and state.network is None
    assert START <= state.clock < START + timedelta(minutes=1)  # the device's clock, not the host's


async def test_a_held_image_and_its_receipt_alert_reach_the_bench(rig: Rig) -> None:
    rig.backend.joined(NETWORK)
    joined = await rig.control.wait_event(lambda e: isinstance(e, StateEvent) and e.state.joined, timeout=5)
    assert isinstance(joined, StateEvent) and joined.state.network == NETWORK

    image = sample()
    assert rig.device.gbcs.receive_image(image)
    alert = await rig.control.wait_event(lambda e: isinstance(e, AlertEvent), timeout=5)
    assert isinstance(alert, AlertEvent)
    assert alert.alert.alert_code == AlertCode.FIRMWARE_VERIFICATION_SUCCESSFUL
    state = await rig.control.state()
    held_hash = parse_image(image).manufacturer_image_hash
    assert state.held_image is not None and state.held_image.hash == held_hash
    assert state.held_image.version == 2 and state.firmware_version == 1
    assert [a.alert_code for a in state.last_alerts] == [AlertCode.FIRMWARE_VERIFICATION_SUCCESSFUL]
    assert state.last_alerts[0].payload == alert.alert.payload


async def test_an_image_signed_by_another_supplier_is_refused_with_0x8f1c(rig: Rig) -> None:
    foreign = parse_image(sample()).signed(KEYS.private_key(OTHER_SUPPLIER)).to_bytes()
    assert not rig.device.gbcs.receive_image(foreign)
    alert = await rig.control.wait_event(lambda e: isinstance(e, AlertEvent), timeout=5)
    assert isinstance(alert, AlertEvent)
    assert alert.alert.alert_code == AlertCode.FIRMWARE_VERIFICATION_FAILED
    assert (await rig.control.state()).held_image is None


async def test_set_clock_moves_this_device_clock(rig: Rig) -> None:
    later = datetime(2030, 1, 1, tzinfo=UTC)
    await rig.control.set_clock(later)
    state = await rig.control.state()
    assert later <= state.clock < datetime(2030, 1, 1, 0, 1, tzinfo=UTC)
    assert rig.device.clock.now() >= later


async def test_factory_reset_forgets_the_held_image_and_the_board_comes_back(rig: Rig) -> None:
    assert rig.device.gbcs.receive_image(sample())
    assert (await rig.control.identify()).held_image is not None
    identity = await rig.control.factory_reset()
    assert identity.held_image is None and identity.firmware_version == 1
    assert rig.board.appearances == 2  # the port went away and came back
    assert (await rig.control.state()).last_alerts == ()


async def test_restore_factory_image_runs_the_built_firmware_again_holding_nothing(rig: Rig) -> None:
    image = sample()
    assert rig.device.gbcs.receive_image(image)
    held = parse_image(image).manufacturer_image_hash
    assert rig.device.firmware.activate(held, ActivationTrigger.CS06) is ActivationResult.SUCCESS
    assert (await rig.control.state()).firmware_version == 2
    assert rig.device.gbcs.receive_image(image)  # the same image, held again
    identity = await rig.control.restore_factory_image()
    assert identity.firmware_version == 1 and identity.held_image is None
    assert rig.device.ota.current_file_version == 1  # what the CH's OTA server is told at the next query


async def test_reset_keeps_the_held_image(rig: Rig) -> None:
    assert rig.device.gbcs.receive_image(sample())
    identity = await rig.control.reset()
    assert identity.held_image is not None and identity.held_image.version == 2


async def test_an_ihds_board_reports_what_it_shows_and_each_change_as_a_state_event(tmp_path: Path) -> None:
    clock = BenchClock(START)
    ihd = build_device(DeviceType.IHD, VirtualAir(), DeviceSettings(
        entity_id=IHD, nwk=0x1001, supplier=SUPPLIER, running_version=1, hardware_version=0x1111), clock, KEYS)
    assert isinstance(ihd, Ihd)
    events: list[object] = []
    async with EmulatedBoard(DeviceBoard(ihd, clock), tmp_path, name="ihd") as board:
        async with BoardControl(str(board.path), name="ihd") as control:
            control.listen(events.append)
            assert (await control.state()).display == PREVIOUS_OCCUPANT
            ihd.display.take(Notice(Change.TENANCY, 1, TENANCY_CONTROL, None))
            shown = (await control.state()).display
            assert shown is not None and shown.consumer.empty and shown.supplier == PREVIOUS_OCCUPANT.supplier
            assert any(isinstance(e, StateEvent) and e.state.display == shown for e in events)
    await ihd.close()


async def test_a_meters_board_reports_no_display(rig: Rig) -> None:
    assert (await rig.control.state()).display is None
