"""What a bench file needs beyond being well formed, checked before anything runs.

A bench file can parse and still be unusable: a device whose keys are not in the key store,
a device type the emulator cannot build, a session database whose inventory the file
contradicts. Each of these would otherwise surface inside every test of a run, as the same
traceback again and again, recorded as a failed session. :func:`check_ready` finds them
first, so ``hanbench bench check``, ``hanbench run`` and the pytest plugin answer with one
``error:`` line and exit code 2, and no session is recorded. It changes nothing: the
inventory is reconciled inside a transaction that is rolled back.
"""

from __future__ import annotations

from hanbench.bench.bench_config import BenchConfig, BenchKind
from hanbench.bench.estate_plan import NotAnEstate, plan_estate
from hanbench.bench.seeding import reconcile_inventory
from hanbench.dcc.inventory import Inventory
from hanbench.errors import BadInput
from hanbench.gbcs.device_types import DeviceType
from hanbench.gbcs.entity import DCC_ENTITY, EntityId
from hanbench.gbcs.keystore import KeyStore, Usage
from hanbench.gbcs.roles import NO_GBCS_MESSAGES

# Benches whose devices hanbench emulates (and so signs for with the devices' private keys)
EMULATED_DEVICES = frozenset({BenchKind.EMU, BenchKind.TWIN})
# Device types a kind cannot build yet: the twin puts every device behind a board on the CH's
# HAN, and Alt HAN bridges behind an orchestrating bridge are not (emu and lab run them)
NOT_EMULATED = {BenchKind.TWIN: frozenset({DeviceType.ALT_HAN})}


class MissingKeys(BadInput):
    """The key store lacks a certificate or private key the bench will use."""


class NotEmulated(BadInput):
    """A device the bench would have to emulate, of a type the emulator cannot build."""


class _DryRun(Exception):
    """Raised inside the inventory transaction to roll a trial reconciliation back."""


def check_ready(config: BenchConfig) -> None:
    """Raise the first reason ``config`` cannot run (see the module docstring)."""
    check_emulated(config)
    check_keys(config)
    check_inventory(config)


def check_one_premises(config: BenchConfig) -> None:
    """A run of the conformance suite assembles one premises per test: an estate cannot be one."""
    if config.estate is not None:
        raise NotAnEstate(f"{config.file} describes an estate of {config.estate.premises} premises; the conformance "
                          "suite runs on a bench of one premises, and an estate opens with hanbench.open_estate")


def check_emulated(config: BenchConfig) -> None:
    if config.kind not in EMULATED_DEVICES:
        return
    if config.estate is not None:
        for template in config.estate.templates:
            if DeviceType.ALT_HAN in template.devices:
                raise NotEmulated(f"{config.file}: estate template {template.name!r} has an alt_han, which hanbench "
                                  "emulates only on a premises of its own bench file, where each bridge names its "
                                  "ppmid_variant (bench/althan.toml); leave it out of the template")
    for device in config.devices:
        if device.type in NOT_EMULATED.get(config.kind, ()):
            raise NotEmulated(
                f"{config.file}: device {device.name!r} ({device.id}) is an {device.type.value}, which a "
                f"{config.kind.value} bench would have to emulate behind a board, and hanbench emulates "
                f"{device.type.value} devices on emu benches only (bench/althan.toml); put it on an emu or "
                "lab bench, or leave it out of this file")


def check_keys(config: BenchConfig) -> None:
    """The keys the bench signs, verifies and MACs with, DS and KA pairs alike: each user's
    certificates and private keys (the DCC signs for them and checks their images; the MACs on
    responses and alerts are addressed to them), the hub's (it signs CCS08 and MACs 0x819D), the
    DCC's Access Control Broker's KA pair (it MACs every command), each device's certificates
    (the DCC verifies what it signs, the ACB MACs commands for it) and, where hanbench emulates
    it, its private keys. An IHD speaks no GBCS, so it needs no KA pair."""
    store = KeyStore(config.keystore)
    both = (Usage.DS, Usage.KA)
    emulated = config.kind in EMULATED_DEVICES
    needed: list[tuple[str, EntityId, tuple[Usage, ...], bool]] = [  # (who, entity, usages, private keys too)
        ("the DCC's Access Control Broker", DCC_ENTITY, (Usage.KA,), True)]
    needed += [(f"user {u.name!r}", u.id, both, True) for u in config.users]
    if config.estate is None:  # an estate's CHs and devices have keys derived from its seed (gbcs.derived_keys)
        needed.append(("the hub", config.hub.id, both, True))
        needed += [(f"device {d.name!r}", d.id, (Usage.DS,) if d.type in NO_GBCS_MESSAGES else both, emulated)
                   for d in config.devices]
    missing = []
    for who, entity, usages, private in needed:
        files = []
        for usage in usages:
            if not store.has_certificate(entity, usage):
                files.append(f"{entity.hex}-{usage.value}.pem")
            if private and not store.has_private_key(entity, usage):
                files.append(f"{entity.hex}-{usage.value}.key")
        if files:
            missing.append(f"{who} ({entity}): {' and '.join(files)}")
    if missing:
        raise MissingKeys(f"{config.file}: the key store {config.keystore} lacks " + "; ".join(missing))


def check_inventory(config: BenchConfig) -> None:
    """Would opening the bench reconcile its session database? (Nothing to do if it has none.)"""
    if not config.database_path.exists():
        return
    with Inventory(config.database_path) as inventory:
        premises = None if config.estate is None else plan_estate(config).premises
        try:
            with inventory.transaction():
                reconcile_inventory(inventory, config, premises)
                raise _DryRun
        except _DryRun:
            pass
