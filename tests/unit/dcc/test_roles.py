"""The role matrix as data: what baseline and MP207 grant, and what they never grant."""

from __future__ import annotations

import pytest

from hanbench.gbcs.device_types import DeviceType
from hanbench.gbcs.errors import GbcsError
from hanbench.gbcs.roles import (
    BASELINE, MP207, RESPONSIBLE_SUPPLIER_ROLE, SR_SCOPE, DeviceStatus, Policy, Role, ServiceRequest,
)


def test_baseline_lets_only_import_and_gas_suppliers_distribute_and_activate():
    for sr in (ServiceRequest.UPDATE_FIRMWARE, ServiceRequest.ACTIVATE_FIRMWARE, ServiceRequest.UPDATE_PPMID_FIRMWARE):
        assert BASELINE.roles_for(sr) == {Role.IMPORT_SUPPLIER, Role.GAS_SUPPLIER}
    assert BASELINE.roles_for(ServiceRequest.READ_FIRMWARE_VERSION) == set(Role)


def test_mp207_adds_exactly_rsa_distribution_to_meters():
    added = set(MP207.grants) - set(BASELINE.grants)
    assert len(added) == 1
    (grant,) = added
    assert (grant.role, grant.request, grant.device_types) == \
        (Role.RSA, ServiceRequest.UPDATE_FIRMWARE, {DeviceType.ESME, DeviceType.GSME})
    assert Role.RSA not in MP207.roles_for(ServiceRequest.ACTIVATE_FIRMWARE)
    assert Role.RSA not in MP207.roles_for(ServiceRequest.UPDATE_PPMID_FIRMWARE)
    assert MP207.update_alerts_to_distributor and not BASELINE.update_alerts_to_distributor


def test_scopes_and_responsible_suppliers():
    assert SR_SCOPE[ServiceRequest.UPDATE_PPMID_FIRMWARE].device_types == {DeviceType.PPMID, DeviceType.ALT_HAN}
    assert DeviceType.ALT_HAN in SR_SCOPE[ServiceRequest.READ_FIRMWARE_VERSION].device_types
    assert DeviceType.IHD not in SR_SCOPE[ServiceRequest.UPDATE_FIRMWARE].device_types
    assert DeviceStatus.SUSPENDED in SR_SCOPE[ServiceRequest.READ_FIRMWARE_VERSION].statuses
    assert DeviceStatus.SUSPENDED not in SR_SCOPE[ServiceRequest.ACTIVATE_FIRMWARE].statuses
    assert set(RESPONSIBLE_SUPPLIER_ROLE) == set(DeviceType)
    assert [t for t, r in RESPONSIBLE_SUPPLIER_ROLE.items() if r is Role.GAS_SUPPLIER] == [DeviceType.GSME]


def test_parsing_names():
    assert Policy.parse(" MP207 ") is MP207 and Policy.parse(BASELINE) is BASELINE
    assert Role.parse("RSA") is Role.RSA and DeviceStatus.parse("Suspended") is DeviceStatus.SUSPENDED
    for bad in (lambda: Policy.parse("mp999"), lambda: Role.parse("boss"), lambda: DeviceStatus.parse("gone")):
        with pytest.raises(GbcsError, match="expected one of"):
            bad()
