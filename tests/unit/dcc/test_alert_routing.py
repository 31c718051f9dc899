"""Alert routing: who receives an alert about a device, under each policy, and how codes are spelt."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timezone

import pytest

from hanbench.dcc.alert_routing import DEFAULT_ROUTE, ROUTES, Audience, DccAlert, code_text, recipients
from hanbench.dcc.records import Device, PendingImage, UpdateState
from hanbench.gbcs.codes import AlertCode
from hanbench.gbcs.device_types import DeviceType
from hanbench.gbcs.entity import EntityId
from hanbench.gbcs.roles import BASELINE, MP207, DeviceStatus

SUPPLIER = EntityId.parse("90-B3-D5-1F-30-01-00-00")
OTHER_SUPPLIER = EntityId.parse("90-B3-D5-1F-30-02-00-00")
RSA = EntityId.parse("90-B3-D5-1F-30-0A-00-01")
ESME = EntityId.parse("00-DB-12-34-56-78-91-00")
CH = EntityId.parse("00-DB-12-34-56-78-91-02")

ESME_RECORD = Device(
    entity_id=ESME, type=DeviceType.ESME, ch=CH, status=DeviceStatus.COMMISSIONED, import_supplier=SUPPLIER,
    export_supplier=OTHER_SUPPLIER, gas_supplier=None, firmware_version=1, ppmid_variant=None,
    activation_response_missing=False, update_state=UpdateState.NONE, update_detail="", pending=None,
)


def distributed_by(user: EntityId) -> Device:
    """The ESME with an image ``user`` distributed to it and that is not yet activated."""
    pending = PendingImage(bytes(32), 2, datetime(2030, 1, 15, 9, 0, tzinfo=timezone.utc), user)
    return dataclasses.replace(ESME_RECORD, update_state=UpdateState.DISTRIBUTED, pending=pending)


UPDATE_ALERTS = ["0x8F72", "0x8F1C", "0x8F8A", "0x8F89", "N60", "N61", "0x8F66", "0x8F67"]
SUPPLIER_ONLY_ALERTS = ["0x819D", "0x8F8B", "0x8F30"]  # 0x8F30 has no route of its own: the default


@pytest.mark.parametrize("code", UPDATE_ALERTS)
def test_under_mp207_an_update_alert_reaches_the_supplier_then_the_rsa_that_distributed(code: str) -> None:
    assert recipients(code, distributed_by(RSA), MP207) == [SUPPLIER, RSA]


@pytest.mark.parametrize("code", UPDATE_ALERTS)
def test_under_the_baseline_only_the_supplier_gets_an_update_alert(code: str) -> None:
    assert recipients(code, distributed_by(RSA), BASELINE) == [SUPPLIER]


@pytest.mark.parametrize("code", SUPPLIER_ONLY_ALERTS)
def test_an_alert_with_no_update_behind_it_goes_to_the_supplier_only(code: str) -> None:
    assert recipients(code, distributed_by(RSA), MP207) == [SUPPLIER]


def test_the_responsible_supplier_not_the_export_supplier_is_the_recipient() -> None:
    assert recipients("0x8F72", ESME_RECORD, MP207) == [SUPPLIER]


def test_a_supplier_that_distributed_its_own_image_gets_each_alert_once() -> None:
    assert recipients("0x8F72", distributed_by(SUPPLIER), MP207) == [SUPPLIER]


def test_without_a_pending_image_there_is_no_distributor_to_tell() -> None:
    assert recipients("N60", ESME_RECORD, MP207) == [SUPPLIER]


def test_an_alert_about_no_known_device_reaches_nobody() -> None:
    assert recipients("0x8F72", None, MP207) == []


def test_routes_name_only_codes_as_the_inventory_spells_them() -> None:
    assert all(code == code.upper().replace("0X", "0x") for code in ROUTES)
    assert set(UPDATE_ALERTS) == {code for code, audiences in ROUTES.items() if Audience.DISTRIBUTOR in audiences}
    assert ROUTES.get("0x8F30", DEFAULT_ROUTE) == frozenset({Audience.SUPPLIER})


@pytest.mark.parametrize(("code", "text"), [
    (AlertCode.FIRMWARE_VERIFICATION_SUCCESSFUL, "0x8F72"),
    (0x8F72, "0x8F72"),
    (0x0102, "0x0102"),  # a code no enum names keeps four digits
    (DccAlert.FIRMWARE_DELIVERED, "N60"),
    (DccAlert.FIRMWARE_DELIVERY_FAILED, "N61"),
])
def test_code_text_spells_gbcs_codes_in_hex_and_dcc_alerts_by_name(code: AlertCode | DccAlert | int,
                                                                  text: str) -> None:
    assert code_text(code) == text
