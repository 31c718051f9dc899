"""zigpy's own ``Device.update_firmware`` pushing an image over the virtual air.

This is the baseline the Comms Hub's GBCS OTA server is compared with. The device here is
the smallest OTA client that completes a transfer: query, blocks, upgrade end.
"""

from __future__ import annotations

import pytest

import asyncio
from typing import Any

import zigpy.types as t
from zigpy.ota import OtaImageWithMetadata
from zigpy.ota.image import ElementTagId, FieldControl, HeaderString, OTAImage, OTAImageHeader, SubElement
from zigpy.ota.providers import BaseOtaImageMetadata
from zigpy.zcl import foundation
from zigpy.zcl.clusters.general import Basic, Ota

from hanbench.devices.node import EmulatedNode
from hanbench.radio.air import VirtualAir
from hanbench.radio.interview import join_and_interview
from hanbench.radio.se_profile import SeDeviceType
from hanbench.radio.virtual_app import virtual_coordinator

pytestmark = pytest.mark.looptime

MANUFACTURER = 0x1234
IMAGE_TYPE = 0x0001
NEW_VERSION = 0x00000200


def make_image(payload: bytes) -> OtaImageWithMetadata:
    sub = SubElement(tag_id=ElementTagId.UPGRADE_IMAGE, data=payload)
    header = OTAImageHeader(
        upgrade_file_id=OTAImageHeader.MAGIC_VALUE,
        header_version=0x0100,
        header_length=56,
        field_control=FieldControl(0),
        manufacturer_id=MANUFACTURER,
        image_type=IMAGE_TYPE,
        file_version=NEW_VERSION,
        stack_version=0x0002,
        header_string=HeaderString("hanbench zigpy baseline"),
        image_size=56 + len(sub.serialize()),
    )
    return OtaImageWithMetadata(
        metadata=BaseOtaImageMetadata(
            file_version=NEW_VERSION, manufacturer_id=MANUFACTURER, image_type=IMAGE_TYPE
        ),
        firmware=OTAImage(header=header, subelements=[sub]),
    )


class MinimalOtaClient(EmulatedNode):
    """Fetches the image it is notified of in 64-byte blocks, then reports success."""

    def __init__(self, air: VirtualAir) -> None:
        super().__init__(
            air,
            "00:11:22:33:44:55:00:0a",
            0x0A0A,
            device_type=SeDeviceType.METERING_DEVICE,
            manufacturer="Acme",
            model="ESME-OTA",
            server_clusters=[Basic.cluster_id],
            client_clusters=[Ota.cluster_id],
            manufacturer_code=MANUFACTURER,
            current_file_version=0x00000100,
        )
        self.received = b""
        self._updating = False

    async def handle_cluster_command(
        self, packet: t.ZigbeePacket, header: foundation.ZCLHeader, command: Any
    ) -> foundation.Status | None:
        if header.command_id != Ota.ClientCommandDefs.image_notify.id:
            return await super().handle_cluster_command(packet, header, command)
        if not self._updating:
            self._updating = True
            asyncio.get_running_loop().create_task(self._update())
        return foundation.Status.SUCCESS

    async def _update(self) -> None:
        current = self.get_attribute(Ota.cluster_id, "current_file_version", server=False)
        offer = await self.request(
            Ota.cluster_id, "query_next_image", 0, MANUFACTURER, IMAGE_TYPE, current
        )
        if offer.status != foundation.Status.SUCCESS:
            return
        while len(self.received) < offer.image_size:
            block = await self.request(
                Ota.cluster_id,
                "image_block",
                field_control=0,
                manufacturer_code=MANUFACTURER,
                image_type=IMAGE_TYPE,
                file_version=offer.file_version,
                file_offset=len(self.received),
                maximum_data_size=64,
            )
            self.received += block.image_data
        await self.request(
            Ota.cluster_id,
            "upgrade_end",
            foundation.Status.SUCCESS,
            MANUFACTURER,
            IMAGE_TYPE,
            offer.file_version,
        )
        self.set_attribute(Ota.cluster_id, "current_file_version", offer.file_version, server=False)


async def test_zigpy_update_firmware_pushes_an_image_over_the_air() -> None:
    image = make_image(bytes(range(256)) * 8)
    air = VirtualAir()
    async with virtual_coordinator(air) as app:
        node = MinimalOtaClient(air)
        device = await join_and_interview(app, node)
        # The interview's own image_notify started an update that found no image:
        # let it settle so the push starts from a quiet device.
        await asyncio.sleep(1)
        node._updating = False
        start = asyncio.get_running_loop().time()
        status = await device.update_firmware(image)
        elapsed = asyncio.get_running_loop().time() - start
        version = device.endpoints[1].out_clusters[Ota.cluster_id].get("current_file_version")
        assert version == NEW_VERSION
        await node.close()
        received = node.received
    assert status == foundation.Status.SUCCESS
    assert received == image.firmware.serialize()
    # update_firmware waits 10 s before re-reading the version; virtual time pays it.
    assert elapsed >= 10
