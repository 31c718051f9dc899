"""SR 11.1-11.4 authorisation against the role matrix, through Dcc.submit: who is refused, by
which rule, and that a refusal sends nothing to the CH."""

from __future__ import annotations

import pytest
from dcc_support import (
    CH, ESME, ESME_B, GSME, HCALCS, IHD, OTHER, PPMID, RSA_1, RSA_2, SUPPLIER_A, SUPPLIER_B,
    V1, signed_image, unsigned_image, version_responder,
)

from hanbench.dcc.errors import UnknownUser
from hanbench.dcc.service_requests import ActivateFirmware, Outcome, ReadFirmwareVersion, UpdateFirmware, \
    UpdatePpmidFirmware
from hanbench.gbcs.entity import EntityId
from hanbench.gbcs.errors import KeyStoreError
from hanbench.gbcs.roles import RefusalRule

HASH = bytes(range(32))


async def _refusal(dcc, user, request) -> RefusalRule | None:
    result = await dcc.submit(user, request)
    (target,) = result.targets
    return target.refusal


async def test_rsa_appointed_by_the_supplier_may_distribute_to_esme_and_gsme_under_mp207(make_dcc, hub, keystore):
    dcc = make_dcc("mp207")
    for device, kind in ((ESME, "esme"), (GSME, "gsme")):
        result = await dcc.submit(RSA_1, UpdateFirmware(signed_image(keystore, SUPPLIER_A, device_type=kind), [device]))
        assert result.accepted == (device,) and not result.refused
        assert result.target(device).outcome is Outcome.DISTRIBUTED
    assert [targets for _, targets in hub.distributed] == [(ESME,), (GSME,)]


async def test_rsa_not_appointed_by_the_devices_supplier_is_refused(make_dcc, hub, keystore):
    dcc = make_dcc("mp207")
    result = await dcc.submit(RSA_2, UpdateFirmware(signed_image(keystore, SUPPLIER_A), [ESME]))
    assert result.refused == {ESME: RefusalRule.RSA_NOT_APPOINTED}
    assert "not appointed by 90-B3-D5-1F-30-01-00-00" in result.target(ESME).message
    assert hub.distributed == []


@pytest.mark.parametrize("device", [PPMID, HCALCS, IHD, CH])
async def test_rsa_may_never_distribute_to_other_device_types(make_dcc, hub, keystore, device):
    dcc = make_dcc("mp207")
    assert await _refusal(dcc, RSA_1, UpdateFirmware(signed_image(keystore, SUPPLIER_A), [device])) \
        is RefusalRule.DEVICE_TYPE_OUT_OF_SCOPE
    assert hub.distributed == []


async def test_rsa_can_never_activate_nor_update_ppmid_firmware(make_dcc, hub, keystore):
    dcc = make_dcc("mp207")
    assert await _refusal(dcc, RSA_1, ActivateFirmware(ESME, HASH)) is RefusalRule.ROLE_NOT_ALLOWED
    assert await _refusal(dcc, RSA_1, UpdatePpmidFirmware(unsigned_image(), [PPMID])) is RefusalRule.ROLE_NOT_ALLOWED
    assert hub.commands == [] and hub.distributed == []


async def test_under_baseline_every_rsa_distribution_is_refused(make_dcc, hub, keystore):
    dcc = make_dcc("baseline")
    result = await dcc.submit(RSA_1, UpdateFirmware(signed_image(keystore, SUPPLIER_A), [ESME, GSME]))
    assert result.refused == {ESME: RefusalRule.ROLE_NOT_ALLOWED, GSME: RefusalRule.ROLE_NOT_ALLOWED}
    assert "under policy baseline" in result.target(ESME).message
    assert hub.distributed == []


async def test_other_user_cannot_distribute_but_may_read_versions(make_dcc, hub, keystore):
    dcc = make_dcc("mp207")
    assert await _refusal(dcc, OTHER, UpdateFirmware(signed_image(keystore, SUPPLIER_A), [ESME])) \
        is RefusalRule.ROLE_NOT_ALLOWED
    assert hub.distributed == []
    hub.responder = version_responder(1)
    assert await _refusal(dcc, OTHER, ReadFirmwareVersion(ESME)) is None


async def test_supplier_b_cannot_touch_supplier_a_devices(make_dcc, hub, keystore):
    dcc = make_dcc("mp207")
    image_b = signed_image(keystore, SUPPLIER_B)
    assert await _refusal(dcc, SUPPLIER_B, UpdateFirmware(image_b, [ESME])) is RefusalRule.SUPPLIER_DOES_NOT_OWN_DEVICE
    assert await _refusal(dcc, SUPPLIER_B, ActivateFirmware(GSME, HASH)) is RefusalRule.SUPPLIER_DOES_NOT_OWN_DEVICE
    assert await _refusal(dcc, SUPPLIER_B, ReadFirmwareVersion(ESME)) is RefusalRule.SUPPLIER_DOES_NOT_OWN_DEVICE
    assert await _refusal(dcc, SUPPLIER_B, UpdatePpmidFirmware(unsigned_image(), [PPMID])) \
        is RefusalRule.SUPPLIER_DOES_NOT_OWN_DEVICE
    assert hub.distributed == [] and hub.commands == []


async def test_after_change_of_supplier_the_old_suppliers_rsa_is_refused(make_dcc, inventory, hub, keystore):
    dcc = make_dcc("mp207")
    inventory.change_supplier(ESME, SUPPLIER_B)
    result = await dcc.submit(RSA_1, UpdateFirmware(signed_image(keystore, SUPPLIER_A), [ESME]))
    assert result.refused == {ESME: RefusalRule.RSA_NOT_APPOINTED}
    ok = await dcc.submit(RSA_2, UpdateFirmware(signed_image(keystore, SUPPLIER_B), [ESME]))
    assert ok.accepted == (ESME,)


@pytest.mark.parametrize("submitter", [SUPPLIER_A, RSA_1])
@pytest.mark.parametrize("signer", [SUPPLIER_B, RSA_1])
async def test_image_not_signed_by_the_devices_supplier_is_refused_whoever_submits(
        make_dcc, hub, keystore, submitter, signer):
    dcc = make_dcc("mp207")
    result = await dcc.submit(submitter, UpdateFirmware(signed_image(keystore, signer), [ESME]))
    assert result.refused == {ESME: RefusalRule.IMAGE_NOT_SIGNED_BY_SUPPLIER}
    assert hub.distributed == []


async def test_multi_device_request_gets_per_device_decisions_each_logged(make_dcc, inventory, hub, keystore):
    dcc = make_dcc("mp207")
    unknown = EntityId.parse("00-DB-12-34-56-78-99-99")
    inventory.set_status(GSME, "suspended")
    result = await dcc.submit(RSA_1, UpdateFirmware(signed_image(keystore, SUPPLIER_A), [ESME, ESME_B, GSME, unknown,
                                                                                         PPMID]))
    assert result.accepted == (ESME,)
    assert result.refused == {ESME_B: RefusalRule.RSA_NOT_APPOINTED, GSME: RefusalRule.DEVICE_NOT_COMMISSIONED,
                              unknown: RefusalRule.UNKNOWN_DEVICE, PPMID: RefusalRule.DEVICE_TYPE_OUT_OF_SCOPE}
    assert hub.distributed[0][1] == (ESME,)
    (logged,) = inventory.requests()
    assert logged.request == "11.1" and logged.user == RSA_1
    assert {t.device: (t.accepted, t.rule, t.outcome) for t in logged.targets} == {
        ESME: (True, None, "distributed"),
        ESME_B: (False, RefusalRule.RSA_NOT_APPOINTED, "refused"),
        GSME: (False, RefusalRule.DEVICE_NOT_COMMISSIONED, "refused"),
        unknown: (False, RefusalRule.UNKNOWN_DEVICE, "refused"),
        PPMID: (False, RefusalRule.DEVICE_TYPE_OUT_OF_SCOPE, "refused"),
    }


async def test_read_version_is_allowed_on_suspended_devices_but_not_on_decommissioned(make_dcc, inventory, hub):
    dcc = make_dcc("baseline")
    hub.responder = version_responder(7)
    inventory.set_status(ESME, "suspended")
    assert await _refusal(dcc, SUPPLIER_A, ReadFirmwareVersion(ESME)) is None
    inventory.set_status(ESME, "decommissioned")
    assert await _refusal(dcc, SUPPLIER_A, ReadFirmwareVersion(ESME)) is RefusalRule.DEVICE_NOT_COMMISSIONED
    assert await _refusal(dcc, SUPPLIER_A, ReadFirmwareVersion(IHD)) is RefusalRule.DEVICE_TYPE_OUT_OF_SCOPE


async def test_malformed_and_wrong_form_images_are_refused(make_dcc, hub, keystore):
    dcc = make_dcc("mp207")
    assert await _refusal(dcc, SUPPLIER_A, UpdateFirmware(b"not an image", [ESME])) is RefusalRule.MALFORMED_IMAGE
    assert await _refusal(dcc, SUPPLIER_A, UpdateFirmware(unsigned_image(), [ESME])) is RefusalRule.MALFORMED_IMAGE
    assert await _refusal(dcc, SUPPLIER_A, UpdateFirmware(signed_image(keystore, SUPPLIER_A), [PPMID])) \
        is RefusalRule.DEVICE_TYPE_OUT_OF_SCOPE
    assert hub.distributed == []


async def test_an_image_for_another_device_type_is_refused_naming_what_it_is_for(make_dcc, hub, keystore):
    dcc = make_dcc("mp207")
    gsme_image = signed_image(keystore, SUPPLIER_A, device_type="gsme")
    result = await dcc.submit(SUPPLIER_A, UpdateFirmware(gsme_image, [ESME, GSME]))
    assert result.refused == {ESME: RefusalRule.IMAGE_NOT_FOR_DEVICE_TYPE}
    message = result.target(ESME).message
    assert "a gsme image" in message and "esme 00-DB-12-34-56-78-91-00 asks for 0x121D/0x0000" in message
    assert hub.distributed[0][1] == (GSME,)
    ppmid_as_esme = signed_image(keystore, SUPPLIER_A, device_type="ppmid")
    assert await _refusal(dcc, SUPPLIER_A, UpdateFirmware(ppmid_as_esme, [ESME])) is RefusalRule.IMAGE_NOT_FOR_DEVICE_TYPE


@pytest.mark.parametrize("version", [V1, V1 - 1], ids=["re-send of the running version", "downgrade"])
async def test_an_image_not_newer_than_the_running_version_is_refused(make_dcc, inventory, hub, keystore, version):
    dcc = make_dcc("mp207")
    result = await dcc.submit(RSA_1, UpdateFirmware(signed_image(keystore, SUPPLIER_A, version=version), [ESME]))
    assert result.refused == {ESME: RefusalRule.IMAGE_NOT_NEWER}
    assert f"file version {version:08X} is not newer than the 00000001" in result.target(ESME).message
    assert hub.distributed == []
    unknown_version = EntityId.parse("00-DB-12-34-56-78-93-00")
    inventory.add_device(unknown_version, "esme", ch=CH, import_supplier=SUPPLIER_A)
    assert inventory.device(unknown_version).firmware_version is None  # the CH answers for it (CCS08 code 1)
    assert (await dcc.submit(SUPPLIER_A, UpdateFirmware(signed_image(keystore, SUPPLIER_A, version=version),
                                                        [unknown_version]))).accepted == (unknown_version,)


async def test_supplier_without_a_certificate_is_a_bench_error_not_a_refusal(make_dcc, inventory, keystore):
    dcc = make_dcc("mp207")
    lost = EntityId.parse("90-B3-D5-1F-30-03-00-00")
    inventory.add_user(lost, "Supplier C", ["import_supplier"])
    inventory.change_supplier(ESME, lost)
    with pytest.raises(KeyStoreError, match="90b3d51f30030000-ds.pem"):
        await dcc.submit(lost, UpdateFirmware(signed_image(keystore, SUPPLIER_A), [ESME]))
    assert inventory.requests() == []


async def test_unknown_user_is_bad_input(make_dcc):
    dcc = make_dcc("mp207")
    with pytest.raises(UnknownUser, match="90-B3-D5-1F-30-99-00-00 is not a user"):
        await dcc.submit("90-B3-D5-1F-30-99-00-00", ReadFirmwareVersion(ESME))
