"""The device OTA client on its own: knobs, Image Notify rules, where its version lives.

Transfers against the CH's server are in ``tests/unit/test_ota_end_to_end.py``. Here the
node is on an air with no coordinator, so any query the client starts fails at once and
ends as NO_IMAGE: what is observed is *whether* the client started one.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import zigpy.types as t
from zigpy.zcl import foundation
from zigpy.zcl.clusters.general import Basic, ImageNotifyCommand, Ota

from hanbench.devices.ota_client import ClientResult, OtaClientConfig, OtaClientNode, OtaIdentity
from hanbench.errors import BadInput
from hanbench.radio.air import VirtualAir
from hanbench.radio.se_profile import SeDeviceType
from hanbench.radio.zcl_frames import UpgradeEndResponse, read_header

pytestmark = pytest.mark.looptime

MFR, IMAGE_TYPE = 0x121D, 0x0000
Payload = ImageNotifyCommand.PayloadType


class Keeper:
    """A device that keeps every image it downloads, and notes each upgrade time it is given."""

    def __init__(self) -> None:
        self.upgrade_commands: list[tuple[int, float]] = []

    async def judge_image(self, data: bytes) -> foundation.Status:
        return foundation.Status.SUCCESS

    def upgrade_command(self, file_version: int, delay_s: float) -> None:
        self.upgrade_commands.append((file_version, delay_s))


def node(air: VirtualAir, *, client_clusters: tuple[int, ...] = (Ota.cluster_id,), **config: Any) -> OtaClientNode:
    return OtaClientNode(
        air, "00:11:22:33:44:55:66:01", 0x4A01, device_type=SeDeviceType.METERING_DEVICE, manufacturer="hanbench",
        model="ESME", server_clusters=[Basic.cluster_id], client_clusters=list(client_clusters),
        manufacturer_code=MFR, current_file_version=5, ota_identity=OtaIdentity(MFR, IMAGE_TYPE, 0x1111),
        judge=Keeper(), ota_config=OtaClientConfig(**config),
    )


NOTIFIES = {
    "jitter-only": (ImageNotifyCommand(payload_type=Payload.QueryJitter, query_jitter=100), True),
    "this-image": (ImageNotifyCommand(payload_type=Payload.QueryJitter_ManufacturerCode_ImageType_NewFileVersion,
                                      query_jitter=100, manufacturer_code=MFR, image_type=IMAGE_TYPE,
                                      new_file_version=6), True),
    "other-manufacturer": (ImageNotifyCommand(payload_type=Payload.QueryJitter_ManufacturerCode, query_jitter=100,
                                              manufacturer_code=0x1002), False),
    "other-image-type": (ImageNotifyCommand(payload_type=Payload.QueryJitter_ManufacturerCode_ImageType,
                                            query_jitter=100, manufacturer_code=MFR, image_type=0x0001), False),
    "version-it-runs": (ImageNotifyCommand(payload_type=Payload.QueryJitter_ManufacturerCode_ImageType_NewFileVersion,
                                           query_jitter=100, manufacturer_code=MFR, image_type=IMAGE_TYPE,
                                           new_file_version=5), False),
    "zero-jitter": (ImageNotifyCommand(payload_type=Payload.QueryJitter, query_jitter=0), False),
}


def from_server(command_id: int, command: Any) -> t.ZigbeePacket:
    """An OTA command as zigpy's ``Cluster.reply`` puts it on the air to the device."""
    header = foundation.ZCLHeader.cluster(1, command_id, direction=foundation.Direction.Server_to_Client)
    return t.ZigbeePacket(
        src=t.AddrModeAddress(addr_mode=t.AddrMode.NWK, address=0x0000), src_ep=1,
        dst=t.AddrModeAddress(addr_mode=t.AddrMode.NWK, address=0x4A01), dst_ep=1, tsn=1, profile_id=0x0109,
        cluster_id=Ota.cluster_id, data=t.SerializableBytes(header.serialize() + command.serialize()),
    )


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


@pytest.mark.parametrize("case", NOTIFIES)
async def test_image_notify_starts_an_update_only_when_it_is_for_this_device(case: str) -> None:
    notify, starts = NOTIFIES[case]
    device = node(VirtualAir(), max_retries=1)
    device.receive(from_server(Ota.ClientCommandDefs.image_notify.id, notify))
    await settle()  # the notify is handled, and the update it starts fails at once (no coordinator)
    assert [outcome.result for outcome in device.ota.outcomes] == [ClientResult.NO_IMAGE] * int(starts)


async def test_an_unsolicited_upgrade_time_goes_to_the_device_and_wait_for_the_command_does_not() -> None:
    device = node(VirtualAir())
    for upgrade_time in (0xFFFFFFFF, 130):
        upgrade_end = Ota.ClientCommandDefs.upgrade_end_response.schema(
            manufacturer_code=MFR, image_type=IMAGE_TYPE, file_version=6, current_time=100,
            upgrade_time=upgrade_time)
        command = device.read_command(
            Ota.cluster_id, read_header(from_server(0x07, upgrade_end).data.serialize()), upgrade_end.serialize())
        assert command == UpgradeEndResponse(MFR, IMAGE_TYPE, 6, 100, upgrade_time)
        assert device.ota.handle_command(command)
    assert device.ota.judge.upgrade_commands == [(6, 30)]  # type: ignore[attr-defined]
    assert device.ota.upgrade_status is Ota.ImageUpgradeStatus.Normal  # no image held: nothing to count down to
    assert not device.ota.busy


def upgrade_end_response(device: OtaClientNode, file_version: int, upgrade_time: int) -> bool:
    """Hand the client an Upgrade End Response the server sent on its own."""
    return device.ota.handle_command(UpgradeEndResponse(MFR, IMAGE_TYPE, file_version, 100, upgrade_time))


async def test_an_upgrade_time_counts_down_only_the_image_held_and_an_unsolicited_wait_changes_nothing() -> None:
    device = node(VirtualAir())
    device.ota._set_status(Ota.ImageUpgradeStatus.Waiting_to_upgrade, 64)  # holding version 6, as after a download
    device.ota._set_downloaded(6)
    upgrade_end_response(device, 7, 130)
    assert device.ota.upgrade_status is Ota.ImageUpgradeStatus.Waiting_to_upgrade  # another image: not ours
    upgrade_end_response(device, 6, 130)
    assert device.ota.upgrade_status is Ota.ImageUpgradeStatus.Count_down
    upgrade_end_response(device, 6, 0xFFFFFFFF)
    assert device.ota.upgrade_status is Ota.ImageUpgradeStatus.Count_down  # already told when: a "wait" changes nothing
    assert device.ota.judge.upgrade_commands == [(7, 30), (6, 30)]  # type: ignore[attr-defined]


async def test_outcome_listeners_hear_every_update_until_removed() -> None:
    device = node(VirtualAir(), max_retries=0)
    heard: list[ClientResult] = []
    stop = device.ota.on_outcome(lambda outcome: heard.append(outcome.result))
    await device.ota.update()  # no coordinator: the query goes unanswered
    stop()
    await device.ota.update()
    assert heard == [ClientResult.NO_IMAGE]
    assert len(device.ota.outcomes) == 2


def test_running_version_is_the_nodes_ota_attribute() -> None:
    device = node(VirtualAir())
    assert device.ota.current_file_version == 5
    device.ota.activated(6)
    assert device.get_attribute(Ota.cluster_id, "current_file_version", server=False) == t.uint32_t(6)
    assert device.ota.upgrade_status is Ota.ImageUpgradeStatus.Normal


def test_node_without_an_ota_client_cluster_is_refused() -> None:
    with pytest.raises(BadInput, match="0x0019"):
        node(VirtualAir(), client_clusters=())


@pytest.mark.parametrize("bad", [
    {"maximum_data_size": 0}, {"maximum_data_size": 256}, {"block_timeout_s": 0}, {"max_retries": -1},
    {"page_size": 0}, {"minimum_block_period_ms": 70000}, {"response_spacing_ms": -1},
])
def test_config_refuses_out_of_range_knobs(bad: dict[str, Any]) -> None:
    with pytest.raises(BadInput):
        OtaClientConfig(**bad)
