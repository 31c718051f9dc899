"""The Comms Hub coordinator's endpoints, as any radio registers them.

A coordinator's endpoints are what its stack answers in Active Endpoint and Simple
Descriptor requests, and a real stack only delivers frames to endpoints it has. They are
the same whichever radio carries the CH (the virtual air, a bellows stick), so they are
described here, apart from every radio application.
"""

from __future__ import annotations

from collections.abc import Sequence

import zigpy.zdo.types as zdo_t
from zigpy.zcl.clusters import general, smartenergy

from hanbench.radio.se_profile import SE_PROFILE_ID, SeDeviceType

#: The server clusters a GB Comms Hub offers on its ESI endpoint.
COMMS_HUB_SERVER_CLUSTERS: tuple[int, ...] = (
    general.Basic.cluster_id,
    general.Identify.cluster_id,
    general.Time.cluster_id,
    general.Ota.cluster_id,
    smartenergy.Metering.cluster_id,  # GSME mirror
    smartenergy.Messaging.cluster_id,
    smartenergy.Tunneling.cluster_id,
    smartenergy.KeyEstablishment.cluster_id,
)


def se_endpoint(
    endpoint: int,
    device_type: SeDeviceType,
    *,
    server_clusters: Sequence[int],
    client_clusters: Sequence[int] = (),
) -> zdo_t.SimpleDescriptor:
    """The Simple Descriptor of one coordinator endpoint on the Smart Energy profile."""
    return zdo_t.SimpleDescriptor(
        endpoint=endpoint,
        profile=SE_PROFILE_ID,
        device_type=device_type,
        device_version=0,
        input_clusters=list(server_clusters),
        output_clusters=list(client_clusters),
    )


def comms_hub_endpoint(
    endpoint: int = 1,
    *,
    server_clusters: Sequence[int] = COMMS_HUB_SERVER_CLUSTERS,
    client_clusters: Sequence[int] = (),
) -> zdo_t.SimpleDescriptor:
    """The Simple Descriptor of a Comms Hub ESI endpoint on the Smart Energy profile."""
    return se_endpoint(
        endpoint,
        SeDeviceType.ENERGY_SERVICE_INTERFACE,
        server_clusters=server_clusters,
        client_clusters=client_clusters,
    )


def coordinator_node_descriptor(
    *,
    manufacturer_code: int = 0x0000,
    maximum_transfer_size: int = 82,
    server_mask: int = 0x0001,
) -> zdo_t.NodeDescriptor:
    """The node descriptor of a mains-powered Zigbee coordinator (the CH's radio).

    Only what differs between radios is a parameter: the virtual coordinator keeps the
    defaults (server mask: primary trust centre), an emulated EmberZNet NCP gives Silicon
    Labs' manufacturer code, its transfer sizes and its stack's server mask.
    """
    return zdo_t.NodeDescriptor(
        logical_type=zdo_t.LogicalType.Coordinator,
        complex_descriptor_available=0,
        user_descriptor_available=0,
        reserved=0,
        aps_flags=0,
        frequency_band=zdo_t.NodeDescriptor.FrequencyBand.Freq2400MHz,
        mac_capability_flags=(
            zdo_t.NodeDescriptor.MACCapabilityFlags.AlternatePanCoordinator
            | zdo_t.NodeDescriptor.MACCapabilityFlags.FullFunctionDevice
            | zdo_t.NodeDescriptor.MACCapabilityFlags.MainsPowered
            | zdo_t.NodeDescriptor.MACCapabilityFlags.RxOnWhenIdle
            | zdo_t.NodeDescriptor.MACCapabilityFlags.AllocateAddress
        ),
        manufacturer_code=manufacturer_code,
        maximum_buffer_size=82,
        maximum_incoming_transfer_size=maximum_transfer_size,
        server_mask=server_mask,
        maximum_outgoing_transfer_size=maximum_transfer_size,
        descriptor_capability_field=zdo_t.NodeDescriptor.DescriptorCapability.NONE,
    )
