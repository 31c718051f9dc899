"""Bring the DCC's inventory in the session database to the bench file's start state.

The inventory lives in ``BenchConfig.database_path`` beside the session record and
outlives a session: CS06 originator counters must keep rising across runs (a device
refuses a replayed counter) and the SR log and alerts are what reports read afterwards.
The premises, though, starts fresh every session, with each device running the version
the bench file names. So opening a bench *reconciles* rather than re-creates:

* users, appointments and devices missing from the inventory are added, each Alt HAN bridge
  only if MP170's option (``[alt_han] option``) shows it to Suppliers on the SMI;
* a device already there is put back to the file's start state: its status, responsible
  supplier, running version and PPMID variant, with no pending image and no update in progress;
  a bridge the option now hides from Suppliers is taken off the inventory, as DUIS SR 8.4
  DeleteDevice does (the alerts and SR log naming it stay);
* a user whose roles changed gets the file's roles, unless a device the file no longer
  lists still names that user in a role it lost;
* what the inventory cannot be made to agree with (that case, an appointment the file no
  longer has, a device that changed type) is a :class:`StaleInventory` error saying what to
  do, never a silent mix; none of them needs the database and its history deleted.

Everything happens in one inventory transaction: a reconciliation that fails changes nothing.
An estate (:mod:`hanbench.bench.estate_plan`) is reconciled the same way, premises by
premises: each has its own CH and devices, all in the one inventory.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from hanbench.bench.bench_config import BenchConfig, DeviceConfig, HubConfig, User
from hanbench.dcc.inventory import Inventory
from hanbench.errors import BadInput
from hanbench.gbcs.device_types import PPMID_FAMILY, DeviceType
from hanbench.gbcs.entity import EntityId
from hanbench.gbcs.roles import RESPONSIBLE_SUPPLIER_ROLE, Role

SESSION_START_DETAIL = "put back to the bench file's start state when the session opened"


class StaleInventory(BadInput):
    """The session database's inventory contradicts the bench file in a way it cannot be reconciled."""


class Layout(Protocol):
    """One premises as the inventory holds it: a CH and the devices hanging off it (a
    :class:`BenchConfig` is one, an estate's premises plan another)."""

    @property
    def hub(self) -> HubConfig: ...

    @property
    def devices(self) -> tuple[DeviceConfig, ...]: ...


def reconcile_inventory(inventory: Inventory, config: BenchConfig, premises: Sequence[Layout] | None = None) -> None:
    """Make ``inventory`` hold the users and appointments of ``config`` and the CH and devices of
    each of ``premises`` (by default the one premises ``config`` describes)."""
    layouts: Sequence[Layout] = (config,) if premises is None else premises
    listed = {device.id for layout in layouts for device in layout.devices} | {layout.hub.id for layout in layouts}
    with inventory.transaction():
        for user in config.users:
            _reconcile_user(inventory, config, user, listed)
        _reconcile_appointments(inventory, config)
        for layout in layouts:
            _reconcile_hub(inventory, config, layout)
            for device in layout.devices:
                _reconcile_device(inventory, config, layout.hub, device)


def _stale(config: BenchConfig, what: str) -> StaleInventory:
    return StaleInventory(
        f"the inventory in {config.database_path} no longer matches {config.file}: {what}; "
        "change the file back, or give the bench another name to start a new database beside this one, "
        "which keeps its history")


def _reconcile_user(inventory: Inventory, config: BenchConfig, user: User, listed: set[EntityId]) -> None:
    known = inventory.find_user(user.id)
    if known is None:
        inventory.add_user(user.id, user.name, user.roles)
    elif known.roles != user.roles:
        dropped = known.roles - user.roles
        relying = sorted(str(device.entity_id) for device in inventory.devices()
                         if device.entity_id not in listed
                         and any(device.supplier_in(role) == user.id for role in dropped))
        if relying:
            lost = ", ".join(sorted(dropped))
            raise _stale(config, f"user {user.id} ({user.name}) loses role {lost}, which devices the file no "
                                 f"longer lists still name them in: {', '.join(relying)}")
        inventory.set_roles(user.id, user.roles)


def _reconcile_appointments(inventory: Inventory, config: BenchConfig) -> None:
    wanted = {(a.supplier, a.rsa) for a in config.appointments}
    for user in config.users:
        for supplier in inventory.appointing_suppliers(user.id):
            if (supplier, user.id) not in wanted:
                raise _stale(config, f"{supplier} appoints {user.id} there, and the bench file does not")
    for supplier, rsa in sorted(wanted, key=str):
        if not inventory.is_appointed(rsa, by=supplier):
            inventory.appoint(supplier, rsa)


def hub_suppliers(devices: Sequence[DeviceConfig]) -> dict[str, EntityId]:
    """The CH's supplier columns (``gbcs.roles``: its Import Supplier, or on a gas-only premises
    its Gas Supplier): the first of ``devices`` with a supplier in that role."""
    for role in (RESPONSIBLE_SUPPLIER_ROLE[DeviceType.CH], Role.GAS_SUPPLIER):
        for device in devices:
            if (supplier := device.supplier_in(role)) is not None:
                return {role.value: supplier}
    return {}


def _reconcile_hub(inventory: Inventory, config: BenchConfig, layout: Layout) -> None:
    hub, suppliers = layout.hub, hub_suppliers(layout.devices)
    known = inventory.find_device(hub.id)
    if known is None:
        inventory.add_device(hub.id, DeviceType.CH, firmware_version=hub.firmware_version, **suppliers)
        return
    if known.type is not DeviceType.CH:
        raise _stale(config, f"{hub.id} is a {known.type.value} there, not the Comms Hub")
    wanted = next(iter(suppliers.values()), None)
    if wanted is not None and known.responsible_supplier != wanted:
        inventory.change_supplier(hub.id, wanted)
    inventory.reset_device(hub.id, status=known.status, firmware_version=hub.firmware_version,
                           detail=SESSION_START_DETAIL)


def _reconcile_device(inventory: Inventory, config: BenchConfig, hub: HubConfig, device: DeviceConfig) -> None:
    known = inventory.find_device(device.id)
    visible = config.on_smi(device)
    if known is None:
        if visible:
            inventory.add_device(
                device.id, device.type, ch=hub.id, status=device.status,
                import_supplier=device.import_supplier, export_supplier=device.export_supplier,
                gas_supplier=device.gas_supplier, firmware_version=device.firmware_version,
                ppmid_variant=device.ppmid_variant)
        return
    if not visible:
        inventory.delete_device(device.id)
        return
    family = {known.type, device.type} <= PPMID_FAMILY
    if known.type is not device.type and not family:
        raise _stale(config, f"{device.id} is a {known.type.value} there, the bench file says {device.type.value}")
    if family and device.ppmid_variant is not None and known.ppmid_variant is not device.ppmid_variant:
        inventory.set_ppmid_variant(device.id, device.ppmid_variant)
    if known.export_supplier != device.export_supplier:
        raise _stale(config, f"{device.id} has export supplier {known.export_supplier} there")
    if known.responsible_supplier != device.responsible_supplier:
        inventory.change_supplier(device.id, device.responsible_supplier)
    inventory.reset_device(device.id, status=device.status, firmware_version=device.firmware_version,
                           detail=SESSION_START_DETAIL)
