"""The DCC as GBCS's Access Control Broker: the MAC on every command it sends, and the check of
the MAC on every protected response and alert it receives.

GBCS (4.3.3, 6.2.3, 7.2.5) has the ACB MAC every command for a device, critical or not: a CS06
carries the Supplier's signature inside and the ACB's MAC around it, an SR 11.2 read the MAC
alone. The MAC is keyed by the ACB's KA key and the target's KA certificate
(:mod:`hanbench.gbcs.protection`), under an invocation counter that must never repeat under a
key: the ACB takes one above the last from the inventory (:meth:`Inventory.next_invocation_counter`),
so it keeps rising across runs as the CS06 originator counters do.

Coming back, GBCS MACs what is not critical: a response to a read and a non-critical alert
(0x1001) carry their originator's MAC for their target (the requesting user, the DCC). The
ACB checks it with the bench key store, which holds the DCC's and the users' KA keys as well
as the devices' certificates (the bench plays the users too). A MAC that is missing where
GBCS requires one, or does not verify, is :class:`~hanbench.gbcs.errors.MacInvalid`; one the
key store holds no key to check is :class:`~hanbench.gbcs.errors.KeyMissing`: the DCC never
takes a MAC on trust. Critical messages are signed and not MAC'd; their signatures are the
DCC's own check.
"""

from __future__ import annotations

from hanbench.dcc.inventory import Inventory
from hanbench.gbcs.entity import DCC_ENTITY, EntityId
from hanbench.gbcs.errors import KeyMissing, MacInvalid
from hanbench.gbcs.frame import GbcsMessage
from hanbench.gbcs.keystore import KeyStore
from hanbench.gbcs.protection import MacCheck, check_mac, mac_parties, mac_required, protect_from_store


class AccessControlBroker:
    """The ACB ``entity_id`` (the DCC's) with its keys in ``keystore`` and its counters in ``inventory``."""

    def __init__(self, keystore: KeyStore, inventory: Inventory, entity_id: EntityId = DCC_ENTITY) -> None:
        self.keystore = keystore
        self.inventory = inventory
        self.entity_id = entity_id

    def protect(self, command: GbcsMessage) -> GbcsMessage:
        """``command`` (signed first, if it is critical) MAC'd for its target under a fresh
        invocation counter; :class:`KeyMissing` when the key store lacks the ACB's KA key or the
        target's KA certificate (a counter skipped then is never used again, which is harmless)."""
        return protect_from_store(command, self.inventory.next_invocation_counter(self.entity_id), self.keystore,
                                  self.entity_id)

    def check(self, msg: GbcsMessage) -> None:
        """Refuse ``msg`` (a response or alert) unless it carries a MAC that verifies where GBCS
        requires one; a message GBCS does not MAC passes (its signature is checked instead)."""
        if not mac_required(msg):
            return
        verdict = check_mac(msg, self.keystore, self.entity_id)
        if verdict is MacCheck.VALID:
            return
        sender, recipient = mac_parties(msg, self.entity_id)
        if verdict is MacCheck.ABSENT:
            raise MacInvalid(f"the {msg.cra.name.lower()} from {msg.originator} carries no MAC, and GBCS MACs "
                             f"{msg.message_code!s}")
        if verdict is MacCheck.NO_KEY:
            raise KeyMissing(f"the MAC from {sender} to {recipient} cannot be checked: the key store "
                             f"{self.keystore.folder} holds neither {recipient}'s KA key with {sender}'s KA "
                             "certificate nor the other way round")
        assert msg.mac is not None
        raise MacInvalid(f"the MAC of the {msg.cra.name.lower()} from {sender} to {recipient} does not verify "
                         f"(invocation counter {msg.mac.invocation_counter})")
