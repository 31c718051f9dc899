"""The DCC User Roles and the firmware Service Request matrix, as data.

One place answers "who may send which firmware SR to which device": the DCC authorises
against it, the portfolio report and the alert routing read it. Nothing here does I/O.

Sources (see ``research/gbcs-domain.md`` section 1): the DUIS SR matrix before MP207 lets Import
and Gas Suppliers send 11.1, 11.3 and 11.4, and every role send 11.2; SECMP0007 brings HCALCS
under 11.1/11.3 and PPMID under 11.4 and takes the IHD out of scope; the SECAS modification
"Sending SR11.2 to Devices in suspended state" lets 11.2 reach suspended devices. MP207
(business requirements, seed 001) adds: an RSA appointed by the device's Energy Supplier may
*Update Firmware* (11.1) on ESME and GSME only; activation stays with the Supplier.

Bench choices, where the public sources stop:

* The *responsible supplier* of a device (the one whose key signs its images and CS06, who
  receives its alerts and owns it in the portfolio report) is the Gas Supplier for a GSME and
  the Import Supplier for every electricity-side device (ESME, HCALCS, PPMID, IHD, CH, Alt HAN
  bridge). On a gas-only premises, which has no Import Supplier, the CH belongs to the Gas
  Supplier (:attr:`DeviceSuppliers.responsible_role`).
* SR 11.1 covers ESME, GSME and HCALCS (CH firmware is the DCC's own campaign, CS05a, not a
  User SR: ``dcc/ch_firmware.py``); 11.3 the same; 11.4 the PPMID and the Alt HAN bridges, which join as PPMID
  variants and "re-use the SECMP0007 functionality" (seed 002, MP170); 11.2 every device type
  with a GBCS read-version use case (ECS52 for ESME and CH, GCS38 for GSME, CS08 for PPMID,
  its bridge variants and HCALCS). No firmware SR reaches an IHD.
* SR 8.4 Update Inventory, here only to correct a PPMID's or Alt HAN bridge's PPMID variant
  after commissioning (MP170's working group asked for it, as MP125 did for the ESME variant,
  seed 002), by the device's responsible supplier.
* SR 3.2 Restrict Access For Change Of Tenancy (GBCS ECS12 on the ESME, GCS09 on the GPF,
  which the bench addresses through the GSME it serves), by the meter's responsible
  supplier; SECMP0056 has the CH tell the premises' IHDs and PPMIDs too.
* 11.2 from an Export Supplier needs the device's Export Supplier to be that user. Network
  operators and Other Users may read any device's version: the bench inventory does not hold
  network operator registrations.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from hanbench.gbcs.device_types import PPMID_FAMILY, DeviceType
from hanbench.gbcs.entity import EntityId
from hanbench.gbcs.errors import GbcsError


class Role(enum.StrEnum):
    """A DCC User Role; the value is the spelling used in bench files and reports."""

    IMPORT_SUPPLIER = "import_supplier"
    EXPORT_SUPPLIER = "export_supplier"
    GAS_SUPPLIER = "gas_supplier"
    RSA = "rsa"  # Registered Supplier Agent (MOP / MAM)
    ELECTRICITY_DISTRIBUTOR = "electricity_distributor"
    GAS_TRANSPORTER = "gas_transporter"
    OTHER_USER = "other_user"

    @classmethod
    def parse(cls, text: str) -> "Role":
        try:
            return cls(text.strip().lower())
        except ValueError:
            names = ", ".join(m.value for m in cls)
            raise GbcsError(f"unknown user role {text!r}; expected one of {names}") from None

    @property
    def is_supplier(self) -> bool:
        """The three Energy Supplier roles: the only ones that appoint RSAs and own devices."""
        return self in SUPPLIER_ROLES


SUPPLIER_ROLES = frozenset({Role.IMPORT_SUPPLIER, Role.EXPORT_SUPPLIER, Role.GAS_SUPPLIER})


class ServiceRequest(enum.StrEnum):
    """The DUIS Service Requests the bench takes (firmware, inventory, change of tenancy); the
    value is the SRV number."""

    UPDATE_FIRMWARE = "11.1"
    READ_FIRMWARE_VERSION = "11.2"
    ACTIVATE_FIRMWARE = "11.3"
    UPDATE_PPMID_FIRMWARE = "11.4"
    UPDATE_INVENTORY = "8.4"
    RESTRICT_ACCESS_FOR_CHANGE_OF_TENANCY = "3.2"

    @property
    def title(self) -> str:
        return _TITLES[self]


_TITLES = {
    ServiceRequest.UPDATE_FIRMWARE: "Update Firmware",
    ServiceRequest.READ_FIRMWARE_VERSION: "Read Firmware Version",
    ServiceRequest.ACTIVATE_FIRMWARE: "Activate Firmware",
    ServiceRequest.UPDATE_PPMID_FIRMWARE: "Update PPMID Firmware",
    ServiceRequest.UPDATE_INVENTORY: "Update Inventory",
    ServiceRequest.RESTRICT_ACCESS_FOR_CHANGE_OF_TENANCY: "Restrict Access For Change Of Tenancy",
}


class DeviceStatus(enum.StrEnum):
    """A device's status in the Smart Metering Inventory."""

    PENDING = "pending"
    COMMISSIONED = "commissioned"
    SUSPENDED = "suspended"
    DECOMMISSIONED = "decommissioned"

    @classmethod
    def parse(cls, text: str) -> "DeviceStatus":
        try:
            return cls(text.strip().lower())
        except ValueError:
            names = ", ".join(m.value for m in cls)
            raise GbcsError(f"unknown device status {text!r}; expected one of {names}") from None


class ImageCheck(enum.Enum):
    """What the DCC checks about the image an SR carries."""

    NONE = "no image"
    SIGNED_BY_RESPONSIBLE_SUPPLIER = "signed by the device's supplier"
    WELL_FORMED_UNSIGNED = "unsigned PPMID image"


@dataclass(frozen=True)
class RequestScope:
    """The part of the rules that depends on the SR alone, whoever sends it."""

    device_types: frozenset[DeviceType]
    statuses: frozenset[DeviceStatus]
    image: ImageCheck


#: Device types that hold a received image until CS06 runs it (GBCS 11.2, SR 11.3): not the
#: PPMID (SR 11.4 activates at once) nor the IHD (the CH activates it).
CS06_DEVICE_TYPES = frozenset({DeviceType.ESME, DeviceType.GSME, DeviceType.HCALCS})
#: Device types that speak no GBCS, so have no GBCS message to MAC and no KA key pair: an IHD
#: (SECMP0007: the CH activates its image).
NO_GBCS_MESSAGES = frozenset({DeviceType.IHD})
#: Device types that hold no Supplier trust anchor, so a change of supplier changes them in the
#: inventory only and no CS02b reaches them: those that speak no GBCS, and the CH, whose trust
#: anchors are the DCC's.
NO_SUPPLIER_TRUST_ANCHOR = NO_GBCS_MESSAGES | {DeviceType.CH}
_COMMISSIONED = frozenset({DeviceStatus.COMMISSIONED})

SR_SCOPE: Mapping[ServiceRequest, RequestScope] = MappingProxyType({
    ServiceRequest.UPDATE_FIRMWARE: RequestScope(
        CS06_DEVICE_TYPES, _COMMISSIONED, ImageCheck.SIGNED_BY_RESPONSIBLE_SUPPLIER),
    ServiceRequest.READ_FIRMWARE_VERSION: RequestScope(
        frozenset({DeviceType.ESME, DeviceType.GSME, DeviceType.HCALCS, DeviceType.PPMID, DeviceType.ALT_HAN,
                   DeviceType.CH}),
        frozenset({DeviceStatus.COMMISSIONED, DeviceStatus.SUSPENDED}),
        ImageCheck.NONE),
    ServiceRequest.ACTIVATE_FIRMWARE: RequestScope(CS06_DEVICE_TYPES, _COMMISSIONED, ImageCheck.NONE),
    ServiceRequest.UPDATE_PPMID_FIRMWARE: RequestScope(
        frozenset({DeviceType.PPMID, DeviceType.ALT_HAN}), _COMMISSIONED, ImageCheck.WELL_FORMED_UNSIGNED),
    ServiceRequest.UPDATE_INVENTORY: RequestScope(
        PPMID_FAMILY, frozenset(DeviceStatus) - {DeviceStatus.DECOMMISSIONED}, ImageCheck.NONE),
    ServiceRequest.RESTRICT_ACCESS_FOR_CHANGE_OF_TENANCY: RequestScope(
        frozenset({DeviceType.ESME, DeviceType.GSME}), _COMMISSIONED, ImageCheck.NONE),
})

RESPONSIBLE_SUPPLIER_ROLE: Mapping[DeviceType, Role] = MappingProxyType({
    DeviceType.GSME: Role.GAS_SUPPLIER,
    DeviceType.ESME: Role.IMPORT_SUPPLIER,
    DeviceType.HCALCS: Role.IMPORT_SUPPLIER,
    DeviceType.PPMID: Role.IMPORT_SUPPLIER,
    DeviceType.IHD: Role.IMPORT_SUPPLIER,
    DeviceType.CH: Role.IMPORT_SUPPLIER,
    DeviceType.ALT_HAN: Role.IMPORT_SUPPLIER,
})


class DeviceSuppliers:
    """The supplier rule for any record of a device that names its suppliers per role.

    Both the DCC's inventory records and the bench file's device entries carry a device
    type and an Import, Export and Gas Supplier; this mixin is the one place that reads
    "who is this device's supplier" from them, through :data:`RESPONSIBLE_SUPPLIER_ROLE`.
    """

    type: DeviceType
    import_supplier: EntityId | None
    export_supplier: EntityId | None
    gas_supplier: EntityId | None

    def supplier_in(self, role: Role) -> EntityId | None:
        """The device's supplier in ``role`` (Import, Export or Gas), or None."""
        return {
            Role.IMPORT_SUPPLIER: self.import_supplier,
            Role.EXPORT_SUPPLIER: self.export_supplier,
            Role.GAS_SUPPLIER: self.gas_supplier,
        }.get(role)

    @property
    def responsible_role(self) -> Role:
        """The role its responsible supplier holds it in: :data:`RESPONSIBLE_SUPPLIER_ROLE`, except
        for the CH of a gas-only premises, which its Gas Supplier holds."""
        if self.type is DeviceType.CH and self.import_supplier is None and self.gas_supplier is not None:
            return Role.GAS_SUPPLIER
        return RESPONSIBLE_SUPPLIER_ROLE[self.type]

    @property
    def responsible_supplier(self) -> EntityId | None:
        """The supplier who signs the device's images and CS06 and owns it (see the module docstring)."""
        return self.supplier_in(self.responsible_role)


class Relation(enum.Enum):
    """How the sender must stand to the target device for a grant to apply."""

    RESPONSIBLE_SUPPLIER = "is the device's responsible supplier"
    SUPPLIER_IN_THIS_ROLE = "is the device's supplier in this role"
    APPOINTED_BY_RESPONSIBLE_SUPPLIER = "is appointed by the device's supplier"
    ANY_DEVICE = "may address any device"


@dataclass(frozen=True)
class Grant:
    """One line of the matrix: ``role`` may send ``request`` to ``device_types`` when ``relation`` holds."""

    role: Role
    request: ServiceRequest
    device_types: frozenset[DeviceType]
    relation: Relation


@dataclass(frozen=True)
class Policy:
    """A whole rule set: the grants, and whether an update's distributor gets its alerts."""

    name: str
    grants: tuple[Grant, ...]
    update_alerts_to_distributor: bool

    def grants_for(self, request: ServiceRequest) -> tuple[Grant, ...]:
        return tuple(g for g in self.grants if g.request is request)

    def roles_for(self, request: ServiceRequest) -> frozenset[Role]:
        """Every role that may send ``request`` to some device."""
        return frozenset(g.role for g in self.grants_for(request))

    @classmethod
    def parse(cls, name: "str | Policy") -> "Policy":
        if isinstance(name, Policy):
            return name
        try:
            return POLICIES[name.strip().lower()]
        except KeyError:
            raise GbcsError(f"unknown policy {name!r}; expected one of {', '.join(POLICIES)}") from None


def _supplier_grants(request: ServiceRequest, relation: Relation = Relation.RESPONSIBLE_SUPPLIER) -> tuple[Grant, ...]:
    types = SR_SCOPE[request].device_types
    return (
        Grant(Role.IMPORT_SUPPLIER, request, types, relation),
        Grant(Role.GAS_SUPPLIER, request, types, relation),
    )


def _read_version_grants() -> tuple[Grant, ...]:
    read = ServiceRequest.READ_FIRMWARE_VERSION
    types = SR_SCOPE[read].device_types
    return (
        *_supplier_grants(read, Relation.SUPPLIER_IN_THIS_ROLE),
        Grant(Role.EXPORT_SUPPLIER, read, frozenset({DeviceType.ESME}), Relation.SUPPLIER_IN_THIS_ROLE),
        Grant(Role.RSA, read, types, Relation.APPOINTED_BY_RESPONSIBLE_SUPPLIER),
        Grant(Role.ELECTRICITY_DISTRIBUTOR, read, types, Relation.ANY_DEVICE),
        Grant(Role.GAS_TRANSPORTER, read, types, Relation.ANY_DEVICE),
        Grant(Role.OTHER_USER, read, types, Relation.ANY_DEVICE),
    )


_BASELINE_GRANTS = (
    *_supplier_grants(ServiceRequest.UPDATE_FIRMWARE),
    *_read_version_grants(),
    *_supplier_grants(ServiceRequest.ACTIVATE_FIRMWARE),
    *_supplier_grants(ServiceRequest.UPDATE_PPMID_FIRMWARE),
    *_supplier_grants(ServiceRequest.UPDATE_INVENTORY),
    *_supplier_grants(ServiceRequest.RESTRICT_ACCESS_FOR_CHANGE_OF_TENANCY),
)

BASELINE = Policy("baseline", _BASELINE_GRANTS, update_alerts_to_distributor=False)
"""DUIS before MP207: only the device's supplier distributes and activates."""

MP207 = Policy(
    "mp207",
    (
        *_BASELINE_GRANTS,
        Grant(Role.RSA, ServiceRequest.UPDATE_FIRMWARE, frozenset({DeviceType.ESME, DeviceType.GSME}),
              Relation.APPOINTED_BY_RESPONSIBLE_SUPPLIER),
    ),
    update_alerts_to_distributor=True,
)
"""MP207: an appointed RSA may also distribute (never activate) to ESME and GSME, and gets the alerts of its updates."""

POLICIES: Mapping[str, Policy] = MappingProxyType({p.name: p for p in (BASELINE, MP207)})


class RefusalRule(enum.StrEnum):
    """The rule that refused a Service Request for one device; the value is how logs spell it."""

    UNKNOWN_DEVICE = "unknown_device"
    ROLE_NOT_ALLOWED = "role_not_allowed"
    DEVICE_TYPE_OUT_OF_SCOPE = "device_type_out_of_scope"
    SUPPLIER_DOES_NOT_OWN_DEVICE = "supplier_does_not_own_device"
    RSA_NOT_APPOINTED = "rsa_not_appointed"
    DEVICE_NOT_COMMISSIONED = "device_not_commissioned"
    MALFORMED_IMAGE = "malformed_image"
    IMAGE_NOT_FOR_DEVICE_TYPE = "image_not_for_device_type"
    IMAGE_NOT_NEWER = "image_not_newer"
    IMAGE_NOT_SIGNED_BY_SUPPLIER = "image_not_signed_by_supplier"


RELATION_REFUSAL: Mapping[Relation, RefusalRule] = MappingProxyType({
    Relation.RESPONSIBLE_SUPPLIER: RefusalRule.SUPPLIER_DOES_NOT_OWN_DEVICE,
    Relation.SUPPLIER_IN_THIS_ROLE: RefusalRule.SUPPLIER_DOES_NOT_OWN_DEVICE,
    Relation.APPOINTED_BY_RESPONSIBLE_SUPPLIER: RefusalRule.RSA_NOT_APPOINTED,
})
"""Which rule refuses a request when a grant's relation does not hold (ANY_DEVICE always holds)."""
