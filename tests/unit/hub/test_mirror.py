"""The CH's GSME mirrors: notification flags served over the air and read by the GSME."""

from __future__ import annotations

from typing import Any

import pytest

from hanbench.devices.mirror_client import MirrorRefused
from hanbench.errors import BadInput, CheckFailed
from hanbench.hub.mirror import DEFAULT_MIRROR_ENDPOINTS, Mirror, MirrorServer
from hanbench.radio.se_clusters import Metering, NotificationFlags
from test_tunnel import ESME, GSME, Premises, on_premises, settle


def test_the_gsme_finds_its_mirror_endpoint_with_request_mirror() -> None:
    async def scenario(p: Premises) -> Any:
        return await p.gsme.mirror.locate(), p.mirrors.get(GSME)

    endpoint, mirror = on_premises(scenario)
    assert mirror is not None and endpoint == mirror.endpoint == DEFAULT_MIRROR_ENDPOINTS[0]


def test_a_device_without_a_mirror_is_told_so() -> None:
    async def scenario(p: Premises) -> Any:
        with pytest.raises(MirrorRefused):
            await p.esme.mirror.read_flags()
        return p.esme.mirror.endpoint

    assert on_premises(scenario) is None


def test_a_device_without_a_mirror_reads_no_flags() -> None:
    async def scenario(p: Premises) -> Any:
        p.esme.mirror.endpoint = DEFAULT_MIRROR_ENDPOINTS[0]  # it guesses GSME's endpoint
        with pytest.raises(CheckFailed, match="UNSUPPORTED_ATTRIBUTE"):
            await p.esme.mirror.read_flags()

    on_premises(scenario)


def test_new_ota_firmware_set_and_cleared_is_read_over_the_air() -> None:
    async def scenario(p: Premises) -> Any:
        mirror = p.mirrors.get(GSME)
        assert mirror is not None
        reads = [await p.gsme.mirror.read_flags()]
        mirror.set(NotificationFlags.NEW_OTA_FIRMWARE)
        reads.append(await p.gsme.mirror.read_flags())
        mirror.clear(NotificationFlags.NEW_OTA_FIRMWARE)
        reads.append(await p.gsme.mirror.read_flags())
        return reads

    empty, raised, cleared = on_premises(scenario)
    assert empty == NotificationFlags(0)
    assert raised == NotificationFlags.NEW_OTA_FIRMWARE
    assert cleared == NotificationFlags(0)


def test_a_read_is_answered_once_from_the_mirror_endpoint() -> None:
    async def scenario(p: Premises) -> Any:
        endpoint = await p.gsme.mirror.locate()
        frames = p.frames()
        await p.gsme.mirror.read_flags()
        await settle()
        return endpoint, [(f.packet.src_ep, f.packet.dst_ep, f.packet.cluster_id) for f in frames]

    endpoint, frames = on_premises(scenario)
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
