"""SR 11.1-11.4 authorisation: the role matrix (``gbcs.roles``) applied to the inventory.

Each target device gets its own decision, so a multi-device 11.1 can be accepted for some
devices and refused for others. A refusal names the first rule that refused it, checked in
this order: the device is known; the sender's roles may send this SR at all; the SR (and
the sender's grant) covers the device type; the sender stands in the right relation to the
device (its supplier, or an RSA appointed by its supplier); the device's status allows the
SR; the image is well formed; it is an image for the device's type; it is newer than the
version the inventory says the device runs; and, for 11.1, it is signed by the device's
supplier. That last rule applies whoever submits: GBCS requires the activated image to come
from the party that signs the CS06, so an RSA may only distribute images its appointing
supplier signed.

The two rules between are what the CH would otherwise meet in silence, after the DCC had
answered "distributed" (docs/architecture.md, "Where every request ends"):

* ``image_not_for_device_type``: a Zigbee OTA client asks for images by its manufacturer
  code and image type (Query Next Image), and the CH serves an image only to a query naming
  the ones in its OTA header (GBCS 11.2.3 builds the header; gbcs-domain 1.5, 2.1), so a GSME
  image sent to an ESME would never be asked for. The bench knows each type's identity
  (:mod:`hanbench.gbcs.image_types`).
* ``image_not_newer``: the CH offers a device only an image newer than what it runs (Silicon
  Labs' OTA server's default query policy, "Upgrade if server has newer"), so a re-send of
  the running version or a downgrade would never be taken. GBCS sets no downgrade path
  (MP231 "Firmware upgrade pathways" would have the CPL say which versions may follow which,
  gbcs-domain 1.7); a device whose version the inventory does not know is not refused here,
  and the CH answers for it (CCS08 response code 1).

Nothing here sends anything; the DCC acts on the decisions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from hanbench.dcc.inventory import Inventory
from hanbench.dcc.records import Device, User, format_firmware_version
from hanbench.gbcs.entity import EntityId
from hanbench.gbcs.errors import ImageFormatError
from hanbench.gbcs.image import UpgradeImage, parse_image
from hanbench.gbcs.image_types import device_type_of, profile_for
from hanbench.gbcs.keystore import KeyStore, Usage
from hanbench.gbcs.roles import (
    RELATION_REFUSAL,
    RESPONSIBLE_SUPPLIER_ROLE,
    SR_SCOPE,
    Grant,
    ImageCheck,
    Policy,
    RefusalRule,
    Relation,
    ServiceRequest,
)


@dataclass(frozen=True)
class Decision:
    """The DCC's decision for one target device; ``refusal`` is None when accepted."""

    device: EntityId
    refusal: RefusalRule | None
    message: str

    @property
    def accepted(self) -> bool:
        return self.refusal is None


def _names(items: Sequence[object] | frozenset[object]) -> str:
    return ", ".join(sorted(str(getattr(i, "value", i)) for i in items))


class Authoriser:
    """Decides Service Requests against one policy, one inventory and one key store."""

    def __init__(self, inventory: Inventory, keystore: KeyStore, policy: Policy) -> None:
        self.inventory = inventory
        self.keystore = keystore
        self.policy = policy

    def decide(self, user: User, request: ServiceRequest, targets: Sequence[EntityId],
               image: UpgradeImage | ImageFormatError | None = None) -> list[Decision]:
        """One decision per target, in the order given.

        ``image`` is what :func:`read_request_image` made of the SR's image: required for 11.1
        and 11.4 (an error refuses every target, naming it) and ignored otherwise. A supplier whose DS
        certificate is missing from the key store is a bench set-up error
        (:class:`~hanbench.gbcs.errors.KeyStoreError`), not a refusal.
        """
        return [self._decide_one(user, request, target, image) for target in targets]

    def _decide_one(self, user: User, request: ServiceRequest, target: EntityId,
                    image: UpgradeImage | ImageFormatError | None) -> Decision:
        device = self.inventory.find_device(target)
        if device is None:
            return Decision(target, RefusalRule.UNKNOWN_DEVICE, f"{target} is not in the inventory")
        refusal = (self._role_refusal(user, request, device)
                   or self._status_refusal(request, device)
                   or self._image_refusal(request, device, image))
        if refusal is not None:
            return Decision(target, *refusal)
        return Decision(target, None, f"SR {request.value} accepted for {device.type.value} {target}")

    def _role_refusal(self, user: User, request: ServiceRequest, device: Device) -> tuple[RefusalRule, str] | None:
        grants = [g for g in self.policy.grants_for(request) if g.role in user.roles]
        who = f"{user.entity_id} ({user.name}, {_names(user.roles)})"
        if not grants:
            allowed = _names(self.policy.roles_for(request))
            return (RefusalRule.ROLE_NOT_ALLOWED,
                    f"{who} may not send SR {request.value} {request.title} under policy {self.policy.name}; "
                    f"only {allowed} may")
        scope = SR_SCOPE[request].device_types
        if device.type not in scope:
            return (RefusalRule.DEVICE_TYPE_OUT_OF_SCOPE,
                    f"SR {request.value} does not apply to a {device.type.value} ({device.entity_id}); "
                    f"it applies to {_names(scope)}")
        covering = [g for g in grants if device.type in g.device_types]
        if not covering:
            types = _names(frozenset().union(*(g.device_types for g in grants)))
            return (RefusalRule.DEVICE_TYPE_OUT_OF_SCOPE,
                    f"under policy {self.policy.name} {who} may send SR {request.value} only to {types}, "
                    f"not to {device.type.value} {device.entity_id}")
        if any(self._relation_holds(g, user, device) for g in covering):
            return None
        return self._relation_refusal(covering[0], user, device, who)

    def _relation_holds(self, grant: Grant, user: User, device: Device) -> bool:
        if grant.relation is Relation.RESPONSIBLE_SUPPLIER:
            return (RESPONSIBLE_SUPPLIER_ROLE[device.type] is grant.role
                    and device.responsible_supplier == user.entity_id)
        if grant.relation is Relation.SUPPLIER_IN_THIS_ROLE:
            return device.supplier_in(grant.role) == user.entity_id
        if grant.relation is Relation.APPOINTED_BY_RESPONSIBLE_SUPPLIER:
            return self.inventory.is_appointed(user.entity_id, by=device.responsible_supplier)
        return True

    def _relation_refusal(self, grant: Grant, user: User, device: Device, who: str) -> tuple[RefusalRule, str]:
        rule = RELATION_REFUSAL[grant.relation]
        supplier = device.responsible_supplier or "nobody"
        if rule is RefusalRule.RSA_NOT_APPOINTED:
            return rule, (f"{who} is not appointed by {supplier}, the supplier of "
                          f"{device.type.value} {device.entity_id}")
        return rule, (f"{who} is not the supplier of {device.type.value} {device.entity_id} "
                      f"(its {RESPONSIBLE_SUPPLIER_ROLE[device.type].value} is {supplier})")

    @staticmethod
    def _status_refusal(request: ServiceRequest, device: Device) -> tuple[RefusalRule, str] | None:
        allowed = SR_SCOPE[request].statuses
        if device.status in allowed:
            return None
        return (RefusalRule.DEVICE_NOT_COMMISSIONED,
                f"{device.type.value} {device.entity_id} is {device.status.value}; SR {request.value} "
                f"needs a device that is {' or '.join(sorted(s.value for s in allowed))}")

    def _image_refusal(self, request: ServiceRequest, device: Device,
                       image: UpgradeImage | ImageFormatError | None) -> tuple[RefusalRule, str] | None:
        check = SR_SCOPE[request].image
        if check is ImageCheck.NONE:
            return None
        if not isinstance(image, UpgradeImage):
            return RefusalRule.MALFORMED_IMAGE, f"the image cannot be used: {image}"
        header, profile = image.header, profile_for(device.type, device.ppmid_variant)
        if not header.is_for(profile.manufacturer_code, profile.image_type):
            meant = device_type_of(header)
            what = f"a {meant.value} image" if meant is not None else "no device type the bench knows"
            return (RefusalRule.IMAGE_NOT_FOR_DEVICE_TYPE,
                    f"the image's OTA header names manufacturer code 0x{header.manufacturer_code:04X}, image type "
                    f"0x{header.image_type:04X} ({what}); {device.type.value} {device.entity_id} asks for "
                    f"0x{profile.manufacturer_code:04X}/0x{profile.image_type:04X}, so it would never take it")
        if device.firmware_version is not None and not header.is_newer_than(device.firmware_version):
            return (RefusalRule.IMAGE_NOT_NEWER,
                    f"file version {format_firmware_version(header.file_version)} is not newer than the "
                    f"{format_firmware_version(device.firmware_version)} {device.type.value} {device.entity_id} runs; "
                    "the CH offers only newer images, so it would never take it")
        if check is ImageCheck.SIGNED_BY_RESPONSIBLE_SUPPLIER:
            supplier = device.responsible_supplier
            if supplier is None or not image.verify(self.keystore.public_key(supplier, Usage.DS)):
                return (RefusalRule.IMAGE_NOT_SIGNED_BY_SUPPLIER,
                        f"the image is not signed by {supplier or 'a supplier'}, the supplier of "
                        f"{device.type.value} {device.entity_id}, who must sign its activation")
        return None


def read_request_image(request: ServiceRequest, image: bytes | None) -> UpgradeImage | ImageFormatError | None:
    """The image an SR carries, read in the form the SR expects (signed for 11.1, unsigned for
    11.4); the error instead of raising, so each target's refusal can name it."""
    check = SR_SCOPE[request].image
    if check is ImageCheck.NONE:
        return None
    if image is None:
        return ImageFormatError(f"SR {request.value} carries an image and none was given")
    try:
        return parse_image(image, signed=check is ImageCheck.SIGNED_BY_RESPONSIBLE_SUPPLIER)
    except ImageFormatError as exc:
        return exc
