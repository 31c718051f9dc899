"""MP207: an appointed RSA may distribute firmware to ESME/GSME, never activate it."""

from __future__ import annotations

import pytest

from conformance_flows import NEW, RECEIPT_WAIT_S
from hanbench import Bench, BenchDevice, BenchUser, Outcome, RefusalRule


@pytest.mark.asyncio
async def test_rsa_distributes_supplier_activates_both_get_the_receipt_alert(
        bench: Bench, supplier: BenchUser, rsa: BenchUser, esme: BenchDevice) -> None:
    if bench.config.policy.name.lower() != "mp207":
        pytest.skip(f"needs a bench under policy mp207; active bench is {bench.config.policy.name}")
    result = await rsa.update_firmware(bench.image(esme, NEW), [esme])
    assert result.target(esme.id).outcome is Outcome.DISTRIBUTED
    to_supplier = await supplier.wait_alert(0x8F72, device=esme, timeout=RECEIPT_WAIT_S)
    to_rsa = await rsa.wait_alert(0x8F72, device=esme, timeout=0)
    assert to_rsa.calculated_hash == to_supplier.calculated_hash == esme.state.held_hash

    refused = await rsa.activate_firmware(esme, to_rsa.calculated_hash)
    assert refused.refusal is RefusalRule.ROLE_NOT_ALLOWED
    assert esme.state.running_version != NEW

    activated = await supplier.activate_firmware(esme, to_supplier.calculated_hash)
    assert activated.outcome is Outcome.ACTIVATED
    assert esme.state.running_version == NEW
