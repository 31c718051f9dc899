"""HubRouter: the estate's one HubPort splits images by CH, routes commands through their target's CH,
and brings every CH's alerts to the DCC."""

from __future__ import annotations

import pytest

from dcc_support import FakeHub, unsigned_image
from hanbench.clock import run_virtual
from hanbench.dcc.hub_port import CommandNotDelivered, ForwardedAlert, OccupancyChange
from hanbench.dcc.hub_router import HubRouter, NoSuchHub
from hanbench.gbcs import firmware_version
from hanbench.gbcs.entity import EntityId
from hanbench.gbcs.frame import GbcsMessage
from hanbench.gbcs.image import parse_image

CH_1, CH_2 = EntityId.parse("00-DB-20-00-00-00-00-00"), EntityId.parse("00-DB-20-00-00-00-00-10")
ESME_1, GSME_1 = EntityId.parse("00-DB-20-00-00-00-00-01"), EntityId.parse("00-DB-20-00-00-00-00-02")
ESME_2 = EntityId.parse("00-DB-20-00-00-00-00-11")
SUPPLIER = EntityId.parse("90-B3-D5-1F-30-01-00-00")


def router() -> tuple[HubRouter, FakeHub, FakeHub]:
    hubs = FakeHub(), FakeHub()
    routed = HubRouter()
    routed.add(CH_1, hubs[0], [ESME_1, GSME_1])
    routed.add(CH_2, hubs[1], [ESME_2])
    return routed, *hubs


def test_an_image_goes_to_each_ch_for_its_own_devices() -> None:
    routed, one, two = router()
    image = parse_image(unsigned_image(), signed=False)
    run_virtual(routed.distribute(image, [ESME_1, ESME_2, GSME_1]))
    assert one.distributed == [(image, (ESME_1, GSME_1))] and two.distributed == [(image, (ESME_2,))]
    with pytest.raises(NoSuchHub, match="hangs off none of the estate's 2 CHs"):
        run_virtual(routed.distribute(image, [ESME_1, EntityId.parse("00-DB-99-00-00-00-00-01")]))
    assert len(one.distributed) == 1, "nothing is handed over when a target is nobody's"


def read_request(target: EntityId) -> GbcsMessage:
    return firmware_version.firmware_version_request(SUPPLIER, target, 7, firmware_version.EsmeFirmwareVersionRequest())


def test_a_command_goes_through_its_targets_ch_or_to_the_ch_itself() -> None:
    routed, one, two = router()

    async def answer(target: EntityId, command: GbcsMessage) -> GbcsMessage:
        return command

    one.responder = two.responder = answer
    run_virtual(routed.send_command(read_request(ESME_2)))
    run_virtual(routed.send_command(read_request(CH_1)))
    assert [c.target for c in two.commands] == [ESME_2] and [c.target for c in one.commands] == [CH_1]
    with pytest.raises(CommandNotDelivered, match="hangs off none"):
        run_virtual(routed.send_command(read_request(EntityId.parse("00-DB-99-00-00-00-00-01"))))


def test_every_chs_alerts_reach_the_listeners() -> None:
    routed, one, two = router()
    heard: list[ForwardedAlert] = []
    remove = routed.on_alert(heard.append)
    first, second = ForwardedAlert(b"\x01", None, "one"), ForwardedAlert(b"\x02", None, "two")
    one.forward(first)
    two.forward(second)
    assert heard == [first, second]
    remove()
    one.forward(first)
    assert len(heard) == 2
    assert set(routed.hubs) == {CH_1, CH_2}


def test_a_change_of_tenancy_goes_to_the_meters_ch_alone() -> None:
    routed, one, two = router()
    receipts = run_virtual(routed.publish_occupancy_change(ESME_2, OccupancyChange.tenancy()))
    assert one.occupancy_changes == [] and two.occupancy_changes == [(ESME_2, OccupancyChange.tenancy())]
    assert all(r.delivered for r in receipts)
    with pytest.raises(NoSuchHub, match="hangs off none"):
        run_virtual(routed.publish_occupancy_change(EntityId.parse("00-DB-99-00-00-00-00-01"),
                                                    OccupancyChange.tenancy()))
