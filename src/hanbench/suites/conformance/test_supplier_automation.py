"""Supplier automation on real devices: activate on the receipt alert, and cope without it.

Seed 000: "Supplier's systems rely on receipt and in 40% of cases, non-receipt, of the
firmware download Alert, in order to auto-trigger an activation". ``supplier.automate``
is those systems; the emulator drops the receipt alert on purpose for the non-receipt cases.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from hanbench.suites.conformance.flows import NEW, OLD
from hanbench import Bench, BenchDevice, BenchUser, Event, Outcome
from hanbench.bench.events import RequestSubmitted
from hanbench.dcc.automation import Action, Branch
from hanbench.gbcs.codes import AlertCode
from hanbench.gbcs.image import parse_image


@contextmanager
def requests_sent(bench: Bench, user: BenchUser) -> Iterator[list[str]]:
    """The SRV numbers of the requests ``user`` submits while the block runs, in order."""
    sent: list[str] = []

    def record(event: Event) -> None:
        if isinstance(event, RequestSubmitted) and event.user == user.id:
            sent.append(event.service_request)

    unsubscribe = bench.events.subscribe(record)
    try:
        yield sent
    finally:
        unsubscribe()


def receipt_wait(bench: Bench) -> dt.timedelta:
    return dt.timedelta(seconds=bench.config.timing.receipt_alert_wait_s)


@pytest.mark.asyncio
@pytest.mark.parametrize("distributor", ["supplier", "rsa"])
async def test_the_receipt_alert_triggers_activation_with_its_hash(
        bench: Bench, supplier: BenchUser, esme: BenchDevice, distributor: str) -> None:
    sender = supplier if distributor == "supplier" else bench.rsa_of(supplier)
    await sender.update_firmware(bench.image(esme, NEW), [esme])
    with requests_sent(bench, supplier) as sent:
        [outcome] = await supplier.automate([esme])
    assert (outcome.device, outcome.branch, outcome.action) == (esme.id, Branch.RECEIPT_ALERT, Action.ACTIVATION_SENT)
    assert outcome.activation is not None and outcome.activation.outcome is Outcome.ACTIVATED
    assert sent == ["11.3"], "no version read when the receipt alert came"
    receipt = await supplier.wait_alert(0x8F72, device=esme, timeout=0)
    activation = bench.dcc.inventory.requests()[-1]
    assert (activation.request, activation.user) == ("11.3", supplier.id)
    assert activation.detail == f"hash {(receipt.calculated_hash or b'').hex()} now", "the hash the device reported"
    assert esme.state.running_version == NEW


@pytest.mark.emu
@pytest.mark.asyncio
@pytest.mark.parametrize("device_type", ["esme", "gsme"])
async def test_a_dropped_receipt_alert_is_followed_by_a_version_read_then_activation(
        bench: Bench, supplier: BenchUser, device_type: str) -> None:
    device = bench.device(device_type)
    bench.emulator.drop_alerts(device.config, {AlertCode.FIRMWARE_VERIFICATION_SUCCESSFUL})
    await supplier.update_firmware(bench.image(device, NEW), [device])
    distributed = bench.now()
    with requests_sent(bench, supplier) as sent:
        [outcome] = await supplier.automate([device])
    assert (outcome.branch, outcome.action) == (Branch.NO_RECEIPT_ALERT, Action.ACTIVATION_SENT), outcome.detail
    assert "the CH reported the image delivered" in outcome.detail
    assert outcome.activation is not None and outcome.activation.outcome is Outcome.ACTIVATED
    assert sent == ["11.2", "11.3"]
    assert bench.now() - distributed >= receipt_wait(bench), "it waited the configured time for the alert"
    assert device.state.running_version == NEW
    codes = [a.code for a in supplier.alerts() if a.device == device.id]
    assert "0x8F72" not in codes and "N60" in codes


@pytest.mark.emu
@pytest.mark.asyncio
async def test_without_receipt_or_delivery_the_device_needs_action(
        bench: Bench, supplier: BenchUser, esme: BenchDevice) -> None:
    # An image signed by the supplier for hardware this ESME is not: the DCC passes it, the
    # transfer fails (CCS08 0x8F89, N61), and every alert the device might raise is lost.
    bench.emulator.drop_alerts(esme.config)
    image = parse_image(bench.image(esme, NEW))
    header = dataclasses.replace(image.header, hw_min=esme.config.hardware_version + 1,
                                 hw_max=esme.config.hardware_version + 2)
    foreign = dataclasses.replace(image, header=header).signed(bench.dcc.keystore.private_key(supplier.id))
    await supplier.update_firmware(foreign.to_bytes(), [esme])
    with requests_sent(bench, supplier) as sent:
        [outcome] = await supplier.automate([esme])
    assert (outcome.branch, outcome.action, outcome.activation) == (Branch.NO_RECEIPT_ALERT, Action.NEEDS_ACTION, None)
    assert "nothing says the image reached the device" in outcome.detail
    assert sent == ["11.2"], "no activation without evidence of delivery"
    assert "N61" in [a.code for a in supplier.alerts() if a.device == esme.id]
    assert esme.state.running_version == OLD and esme.state.held_version is None


@pytest.mark.emu
@pytest.mark.asyncio
async def test_a_receipt_alert_with_another_hash_is_not_activated(
        bench: Bench, supplier: BenchUser, gsme: BenchDevice) -> None:
    await supplier.update_firmware(bench.image(gsme, NEW), [gsme])
    pending = bench.dcc.inventory.device(gsme.id).pending
    assert pending is not None
    # Before the sleeping GSME wakes, another image signed by its supplier replaces the
    # distributed one in the CH's store, past the DCC: the device verifies and keeps that one.
    image = parse_image(bench.image(gsme, NEW))
    other = dataclasses.replace(image, manufacturer_image=image.manufacturer_image[:-1] + b"!")
    await bench.hub.distribute(other.signed(bench.dcc.keystore.private_key(supplier.id)), [gsme.id])
    with requests_sent(bench, supplier) as sent:
        [outcome] = await supplier.automate([gsme])
    assert (outcome.branch, outcome.action, outcome.activation) == (Branch.RECEIPT_ALERT, Action.NEEDS_ACTION, None)
    receipt = await supplier.wait_alert(0x8F72, device=gsme, timeout=0)
    assert receipt.calculated_hash == gsme.state.held_hash != pending.hash
    assert pending.hash.hex() in outcome.detail and receipt.calculated_hash.hex() in outcome.detail
    assert sent == [], "no SR 11.3 with a hash the device did not report"
    assert gsme.state.running_version == OLD
    assert bench.dcc.inventory.device(gsme.id).needs_action
