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
