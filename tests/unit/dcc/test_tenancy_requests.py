"""SR 3.2 Restrict Access For Change Of Tenancy at the DCC: who may send it, and what the
user is told of the premises' displays; a change of supplier tells the displays too."""

from __future__ import annotations

import pytest

from dcc_support import CH, ESME, GSME, IHD, OTHER, PPMID, RSA_1, SUPPLIER_A, SUPPLIER_B, FakeHub
from hanbench.dcc.service_requests import Outcome, RestrictAccessForChangeOfTenancy
from hanbench.errors import BadInput
from hanbench.gbcs.device_types import DeviceType
from hanbench.gbcs.roles import NO_SUPPLIER_TRUST_ANCHOR, RefusalRule, ServiceRequest
from hanbench.radio.device_management import Change


async def test_the_meters_supplier_changes_the_tenancy_and_hears_every_display(make_dcc, hub: FakeHub,
                                                                                inventory) -> None:
    dcc = make_dcc()
    result = await dcc.submit(SUPPLIER_A, RestrictAccessForChangeOfTenancy(ESME))
    assert result.service_request is ServiceRequest.RESTRICT_ACCESS_FOR_CHANGE_OF_TENANCY
    target = result.target(ESME)
    assert target.outcome is Outcome.OCCUPANTS_NOTIFIED and target.refusal is None
    assert [(n.device, n.delivered) for n in target.notices] == [(IHD, True), (PPMID, True)]
    assert [(device, change.change) for device, change in hub.occupancy_changes] == [(ESME, Change.TENANCY)]
    assert inventory.requests()[-1].targets[0].outcome == "occupants_notified"
    gas = await dcc.submit(SUPPLIER_A, RestrictAccessForChangeOfTenancy(GSME))
    assert gas.target(GSME).outcome is Outcome.OCCUPANTS_NOTIFIED, "the Gas Supplier's GSME (GCS09)"


async def test_a_display_that_did_not_take_it_makes_the_outcome_not_delivered_and_is_named(make_dcc,
                                                                                          hub: FakeHub) -> None:
    hub.displays[IHD] = False
    target = (await make_dcc().submit(SUPPLIER_A, RestrictAccessForChangeOfTenancy(ESME))).target(ESME)
    assert target.outcome is Outcome.NOT_DELIVERED
    assert f"{IHD} not delivered" in target.message


async def test_a_ch_that_cannot_tell_the_displays_is_not_delivered_with_its_reason(make_dcc, hub: FakeHub) -> None:
    hub.fail_notice = BadInput("the CH is gone")
    target = (await make_dcc().submit(SUPPLIER_A, RestrictAccessForChangeOfTenancy(ESME))).target(ESME)
    assert target.outcome is Outcome.NOT_DELIVERED and "the CH is gone" in target.message


@pytest.mark.parametrize(("user", "device", "rule"), [
    (SUPPLIER_B, ESME, RefusalRule.SUPPLIER_DOES_NOT_OWN_DEVICE),
    (RSA_1, ESME, RefusalRule.ROLE_NOT_ALLOWED),
    (OTHER, ESME, RefusalRule.ROLE_NOT_ALLOWED),
    (SUPPLIER_A, IHD, RefusalRule.DEVICE_TYPE_OUT_OF_SCOPE),
    (SUPPLIER_A, PPMID, RefusalRule.DEVICE_TYPE_OUT_OF_SCOPE),
])
async def test_sr_3_2_is_refused_by_rule_and_nothing_reaches_the_premises(make_dcc, hub: FakeHub, inventory,
                                                                          user, device, rule) -> None:
    result = await make_dcc().submit(user, RestrictAccessForChangeOfTenancy(device))
    target = result.target(device)
    assert (target.refusal, target.outcome, target.notices) == (rule, Outcome.REFUSED, ())
    assert hub.occupancy_changes == []
    (logged,) = inventory.requests()
    assert (logged.request, logged.targets[0].rule, logged.targets[0].outcome) == ("3.2", rule, "refused")


async def test_a_change_of_supplier_tells_the_displays_the_new_suppliers_name(make_dcc, hub: FakeHub) -> None:
    await make_dcc().change_supplier(IHD, SUPPLIER_B)
    ((device, change),) = hub.occupancy_changes
    assert (device, change.change, change.new_supplier) == (IHD, Change.SUPPLIER, "Supplier B")


async def test_a_change_of_supplier_goes_on_when_the_displays_cannot_be_told(make_dcc, hub: FakeHub,
                                                                           inventory) -> None:
    hub.fail_notice = BadInput("the CH is gone")
    assert await make_dcc().change_supplier(IHD, SUPPLIER_B) is None
    assert inventory.device(IHD).import_supplier == SUPPLIER_B



_SEEDED = {DeviceType.IHD: IHD, DeviceType.CH: CH}


@pytest.mark.parametrize("device_type", sorted(NO_SUPPLIER_TRUST_ANCHOR))
async def test_a_device_without_a_supplier_trust_anchor_changes_supplier_in_the_inventory_only(
        make_dcc, hub: FakeHub, inventory, device_type) -> None:
    device = _SEEDED[device_type]
    assert await make_dcc().change_supplier(device, SUPPLIER_B) is None
    assert hub.commands == [], "no CS02b goes to a device that holds no Supplier trust anchor"
    assert inventory.device(device).import_supplier == SUPPLIER_B
