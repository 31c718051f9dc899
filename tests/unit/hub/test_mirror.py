"""The CH's GSME mirrors: notification flags served over the air and read by the GSME."""

from __future__ import annotations

import pytest
from zigpy.zcl import foundation

from hanbench.devices.mirror_client import MirrorRefused
from hanbench.errors import BadInput, CheckFailed
from hanbench.hub.mirror import DEFAULT_MIRROR_ENDPOINTS, Mirror, MirrorServer, read_attributes_response
from hanbench.radio.se_clusters import Metering, MeteringClientAttributes, NotificationFlags
from test_tunnel import ESME, GSME, on_premises, settle

pytestmark = pytest.mark.looptime


async def test_the_gsme_finds_its_mirror_endpoint_with_request_mirror() -> None:
    async with on_premises() as p:
        endpoint, mirror = await p.gsme.mirror.locate(), p.mirrors.get(GSME)
    assert mirror is not None and endpoint == mirror.endpoint == DEFAULT_MIRROR_ENDPOINTS[0]


async def test_a_device_without_a_mirror_is_told_so() -> None:
    async with on_premises() as p:
        with pytest.raises(MirrorRefused):
            await p.esme.mirror.read_flags()
        assert p.esme.mirror.endpoint is None


async def test_a_device_without_a_mirror_reads_no_flags() -> None:
    async with on_premises() as p:
        p.esme.mirror.endpoint = DEFAULT_MIRROR_ENDPOINTS[0]  # it guesses GSME's endpoint
        with pytest.raises(CheckFailed, match="UNSUPPORTED_ATTRIBUTE"):
            await p.esme.mirror.read_flags()


async def test_new_ota_firmware_set_and_cleared_is_read_over_the_air() -> None:
    async with on_premises() as p:
        mirror = p.mirrors.get(GSME)
        assert mirror is not None
        reads = [await p.gsme.mirror.read_flags()]
        mirror.set(NotificationFlags.NEW_OTA_FIRMWARE)
        reads.append(await p.gsme.mirror.read_flags())
        mirror.clear(NotificationFlags.NEW_OTA_FIRMWARE)
        reads.append(await p.gsme.mirror.read_flags())
        empty, raised, cleared = reads
    assert empty == NotificationFlags(0)
    assert raised == NotificationFlags.NEW_OTA_FIRMWARE
    assert cleared == NotificationFlags(0)


async def test_a_read_is_answered_once_from_the_mirror_endpoint() -> None:
    async with on_premises() as p:
        endpoint = await p.gsme.mirror.locate()
        frames = p.frames()
        await p.gsme.mirror.read_flags()
        await settle()
        frames = [(f.packet.src_ep, f.packet.dst_ep, f.packet.cluster_id) for f in frames]
    # The read goes to the mirror endpoint; exactly one answer comes back from it (zigpy's
    # own UNSUPPORTED_ATTRIBUTE answer is suppressed).
    assert frames == [(1, endpoint, Metering.cluster_id), (endpoint, 1, Metering.cluster_id)]


def test_flag_listeners_hear_changes_only() -> None:
    seen: list[NotificationFlags] = []
    server = MirrorServer()
    server.on_change(lambda mirror: seen.append(mirror.flags))
    mirror = server.create(GSME)
    mirror.set(NotificationFlags.NEW_OTA_FIRMWARE)
    mirror.set(NotificationFlags.NEW_OTA_FIRMWARE)
    mirror.set(NotificationFlags.TUNNEL_MESSAGE_PENDING)
    mirror.clear(NotificationFlags.NEW_OTA_FIRMWARE)
    mirror.clear(NotificationFlags.NEW_OTA_FIRMWARE)
    assert seen == [
        NotificationFlags.NEW_OTA_FIRMWARE,
        NotificationFlags.NEW_OTA_FIRMWARE | NotificationFlags.TUNNEL_MESSAGE_PENDING,
        NotificationFlags.TUNNEL_MESSAGE_PENDING,
    ]


def test_create_is_idempotent_and_endpoints_run_out() -> None:
    server = MirrorServer(endpoints=(7,))
    first = server.create(GSME)
    assert server.create(GSME) is first and isinstance(first, Mirror) and first.endpoint == 7
    with pytest.raises(BadInput, match="no free mirror endpoint"):
        server.create(ESME)
    assert server.get(ESME) is None


@pytest.mark.parametrize("endpoints", [(), (2, 2), (1, 2)])
def test_mirror_endpoints_must_be_distinct_and_not_the_esi(endpoints: tuple[int, ...]) -> None:
    with pytest.raises(BadInput):
        MirrorServer(endpoints=endpoints)


def _zigpy_read_attributes_response(tsn: int, mirror: Mirror | None, attribute_ids: list[int]) -> bytes:
    """What zigpy writes for the same answer: its ZCL header from the CH's Metering client and
    its Read Attributes Response records."""
    flags = MeteringClientAttributes.functional_notification_flags
    records = [
        foundation.ReadAttributeRecord(attrid, foundation.Status.SUCCESS,
                                       foundation.TypeValue(type=flags.zcl_type, value=mirror.flags))
        if mirror is not None and attrid == flags.id
        else foundation.ReadAttributeRecord(attrid, foundation.Status.UNSUPPORTED_ATTRIBUTE)
        for attrid in attribute_ids
    ]
    rsp = foundation.GENERAL_COMMANDS[foundation.GeneralCommand.Read_Attributes_rsp]
    control = foundation.FrameControl.general(direction=foundation.Direction.Client_to_Server).replace(
        disable_default_response=True)
    header = foundation.ZCLHeader(frame_control=control, tsn=tsn, command_id=rsp.id)
    return header.serialize() + rsp.schema(status_records=records).serialize()


@pytest.mark.parametrize("flags", [NotificationFlags(0), NotificationFlags.NEW_OTA_FIRMWARE,
                                   NotificationFlags.NEW_OTA_FIRMWARE | NotificationFlags.TUNNEL_MESSAGE_PENDING,
                                   NotificationFlags(sum(NotificationFlags))])
@pytest.mark.parametrize("attribute_ids", [[0x0000], [0x0000, 0x0001], [0x0001], [0x0000, 0xFFFF, 0x0000], []])
@pytest.mark.parametrize("tsn", [0, 0x5A, 0xFF])
def test_the_read_attributes_response_is_the_one_zigpy_writes(
        flags: NotificationFlags, attribute_ids: list[int], tsn: int) -> None:
    mirror = MirrorServer().create(GSME)
    mirror.set(flags)
    assert read_attributes_response(tsn, mirror, attribute_ids) == _zigpy_read_attributes_response(
        tsn, mirror, attribute_ids)
    assert read_attributes_response(tsn, None, attribute_ids) == _zigpy_read_attributes_response(
        tsn, None, attribute_ids)
