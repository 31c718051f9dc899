"""What an image is, a device learns from its signed content, never from the OTA header.

GBCS signs the Manufacturer Image alone; the header's file version, manufacturer code and image
type travel unsigned. An image whose header was rewritten after the supplier signed it still
verifies, so the DCC passes it and the CH offers it. The device must refuse it (0x8F1C, and the
CH's CCS08 failure), go on reporting the version it truly runs, and still take the next genuine
update. On a lab bench a real image is opaque to the bench: there the device's own report is
the truth these tests read (README, hardware.md).
"""

from __future__ import annotations

import pytest

from hanbench.suites.conformance.flows import NEW, OLD, distribute, receipt_wait_s, relabelled_image
from hanbench import Bench, BenchDevice, BenchUser, Outcome
from hanbench.gbcs.device_types import DeviceType
from hanbench.gbcs.image_types import profile_for


@pytest.mark.clause("GBCS 11.2.3")
@pytest.mark.asyncio
async def test_a_relabelled_file_version_is_refused_and_the_device_reports_its_true_version(
        bench: Bench, supplier: BenchUser, esme: BenchDevice) -> None:
    forged = relabelled_image(bench, esme, file_version=0xFFFFFFFE)
    result = await supplier.update_firmware(forged, [esme])
    assert result.target(esme.id).outcome is Outcome.DISTRIBUTED, "the supplier's signature still verifies"
    await supplier.wait_alert(0x8F1C, device=esme, timeout=receipt_wait_s(bench))
    await supplier.wait_alert(0x8F89, device=esme, timeout=receipt_wait_s(bench))  # CCS08: the transfer failed
    assert esme.state.held_version is None and esme.state.running_version == OLD
    read = await supplier.read_firmware_version(esme)
    assert read.outcome is Outcome.VERSION_READ and read.firmware_version == OLD
    # A later genuine update is still offered (the device never claimed 0xFFFFFFFE) and activated.
    alert = await distribute(bench, supplier, esme)
    activation = await supplier.activate_firmware(esme, alert.calculated_hash)
    assert activation.outcome is Outcome.ACTIVATED and activation.firmware_version == NEW
    read = await supplier.read_firmware_version(esme)
    assert read.firmware_version == NEW == esme.state.running_version


@pytest.mark.clause("GBCS 11.2.3")
@pytest.mark.asyncio
async def test_an_esme_image_relabelled_for_the_gsme_is_refused_by_the_gsme(
        bench: Bench, supplier: BenchUser, esme: BenchDevice, gsme: BenchDevice) -> None:
    labels = profile_for(DeviceType.GSME)
    forged = relabelled_image(bench, esme, manufacturer_code=labels.manufacturer_code, image_type=labels.image_type)
    result = await supplier.update_firmware(forged, [gsme])
    assert result.target(gsme.id).outcome is Outcome.DISTRIBUTED
    await supplier.wait_alert(0x8F1C, device=gsme, timeout=receipt_wait_s(bench))
    await supplier.wait_alert(0x8F89, device=gsme, timeout=receipt_wait_s(bench))
    assert gsme.state.held_version is None and gsme.state.running_version == OLD
    assert not [a for a in supplier.alerts() if a.device == gsme.id and a.code == "0x8F72"]
