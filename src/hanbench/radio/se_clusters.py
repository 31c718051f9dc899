"""Smart Energy cluster definitions that zigpy 2.4 lacks, shared by the CH and the devices.

GBCS commands, responses and alerts cross the GB HAN in the Smart Energy **Tunneling**
cluster (0x0704), and a sleepy GSME learns what waits for it from the **Functional
Notification Flags** of its mirror in the CH (a Metering cluster, 0x0702). zigpy 2.4 has
both clusters but defines no Tunneling command and no Metering client attribute; this module
defines them with zigpy's own ZCL types. What rides on the tunnel is framed by
:mod:`hanbench.radio.gb_hrgp`; the errors either tunnel end reports are in
:mod:`hanbench.radio.tunnel_errors`.

Tunneling (SE 1.4 annex D.6), commands the server receives (client to server):

====  ===================================  =============================================
id    command                              fields
====  ===================================  =============================================
0x00  RequestTunnel                        protocol ID (enum8), manufacturer code
                                           (uint16, 0xFFFF for a standard protocol),
                                           flow control support (bool), maximum incoming
                                           transfer size (uint16)
0x01  CloseTunnel                          tunnel ID (uint16)
0x02  TransferData                         tunnel ID (uint16), data (rest of the frame)
0x03  TransferDataError                    tunnel ID (uint16), transfer data status (uint8)
0x04  AckTransferData                      tunnel ID, number of bytes left (uint16)
0x05  ReadyData                            tunnel ID, number of octets left (uint16)
0x06  GetSupportedTunnelProtocols          protocol offset (uint8)
====  ===================================  =============================================

and the commands the client receives (server to client): RequestTunnelResponse (0x00:
tunnel ID, tunnel status, maximum incoming transfer size), TransferData (0x01),
TransferDataError (0x02), AckTransferData (0x03), ReadyData (0x04),
SupportedTunnelProtocolsResponse (0x05: list complete, count, (manufacturer code, protocol
ID) pairs) and TunnelClosureNotification (0x06: tunnel ID). TransferData, TransferDataError,
AckTransferData and ReadyData exist in both directions with the same fields; they are named
``..._client_to_server`` and ``..._server_to_client`` here (the Silicon Labs names) because
zigpy looks commands up by name across both directions. The server attribute
CloseTunnelTimeout (0x0000, uint16 seconds, default 0xFFFF) is defined too.

Functional Notification Flags (SE 1.4 Table D-59; GBCS names the same bits): a bitmap32
Metering **client** attribute (0x0000, the Notification Attribute Set) that the CH keeps on
the mirror endpoint of each GSME. The GSME reads it with a ZCL Read Attributes addressed to
the Metering client side (direction server to client) of its mirror endpoint, which it learns
with the Metering RequestMirror / RequestMirrorResponse commands zigpy already defines.
zigpy 2.4 models the bits as ``smartenergy.FunctionalNotificationFlags``, an ``IntStruct``
over uint32; the attribute's ZCL type is bitmap32, so :class:`NotificationFlags` is a
``bitmap32`` with the same bit positions (a test pins them against zigpy's struct).

How the definitions reach zigpy, the one way they are applied: importing this module
subclasses zigpy's ``Tunneling`` and ``Metering`` clusters. zigpy registers every ``Cluster``
subclass with a ``cluster_id`` in ``Cluster._registry``, which ``Cluster.from_id`` uses when
an endpoint adds a cluster; so every endpoint created afterwards (interviewed devices on the
CH, emulated devices' own endpoints) carries :class:`Tunneling` and :class:`Metering` from
here. Both modules that talk over these clusters import this one. The subclasses also stop
zigpy's generic answers that would contradict the tunnel and the mirror (see their
docstrings). ``tests/unit/radio/test_se_clusters.py`` fails if zigpy starts defining
Tunneling commands itself, so these definitions get reviewed against zigpy's.
"""

from __future__ import annotations

from typing import Any, Final

import zigpy.types as t
from zigpy.zcl import foundation
from zigpy.zcl.clusters import smartenergy
from zigpy.zcl.foundation import BaseAttributeDefs, ZCLAttributeDef, ZCLCommandDef

from hanbench.errors import BadInput
from hanbench.radio.mac import max_aps_payload_octets

#: RequestTunnel's manufacturer code for a protocol that is not manufacturer-specific.
STANDARD_PROTOCOL_MANUFACTURER = 0xFFFF
#: The largest TransferData either tunnel end accepts unless configured otherwise (octets):
#: the bench's own choice, large enough for any GBCS firmware command (APS fragmentation is
#: not modelled on the air).
DEFAULT_MAXIMUM_INCOMING_TRANSFER_SIZE = 1500


#: A TransferData's octets before its data: ZCL header (frame control, TSN, command) and tunnel ID.
TRANSFER_DATA_OVERHEAD = 3 + 2

#: The most GBCS octets one TransferData carries in a single APS-secured frame (82 - 9 - 5 = 68):
#: what a CH on a radio that sends no APS fragments (an EZSP stick through bellows) can send at once.
ONE_FRAME_TRANSFER_OCTETS = max_aps_payload_octets(aps_secured=True) - TRANSFER_DATA_OVERHEAD


def check_maximum_incoming_transfer_size(size: int) -> None:
    """Refuse a configured maximum that RequestTunnel(Response)'s uint16 field cannot carry."""
    if not 1 <= size <= 0xFFFF:
        raise BadInput(f"maximum incoming transfer size must be 1..65535 octets, got {size}")


class TunnelProtocol(t.enum8):
    """Tunneling protocol IDs (SE 1.4 Table D-127)."""

    DLMS_COSEM = 0
    IEC_61107 = 1
    ANSI_C12 = 2
    M_BUS = 3
    SML = 4
    CLIMATE_TALK = 5
    GB_HRGP = 6
    TEST = 199


class TunnelStatus(t.enum8):
    """RequestTunnelResponse's TunnelStatus."""

    SUCCESS = 0x00
    BUSY = 0x01
    NO_MORE_TUNNEL_IDS = 0x02
    PROTOCOL_NOT_SUPPORTED = 0x03
    FLOW_CONTROL_NOT_SUPPORTED = 0x04


class TransferDataStatus(t.enum8):
    """TransferDataError's status: why a TransferData was refused."""

    NO_SUCH_TUNNEL = 0x00
    WRONG_DEVICE = 0x01
    DATA_OVERFLOW = 0x02


class SupportedProtocol(t.Struct):
    """One entry of SupportedTunnelProtocolsResponse's protocol list."""

    manufacturer_code: t.uint16_t
    protocol_id: TunnelProtocol


# Fields of the commands that exist in both directions (each direction compiles its own schema).
_TRANSFER_DATA = {"tunnel_id": t.uint16_t, "data": t.Bytes}  # data: the rest of the frame
_TRANSFER_DATA_ERROR = {"tunnel_id": t.uint16_t, "status": TransferDataStatus}
_ACK_TRANSFER_DATA = {"tunnel_id": t.uint16_t, "number_of_bytes_left": t.uint16_t}
_READY_DATA = {"tunnel_id": t.uint16_t, "number_of_octets_left": t.uint16_t}


class Tunneling(smartenergy.Tunneling):
    """zigpy's Tunneling cluster with the SE 1.4 commands and attribute.

    zigpy answers every cluster command it has no handler for with a Default Response
    (SUCCESS). On a tunnel that is wrong twice over: RequestTunnel has its own response, and
    TransferData must be refused with TransferDataError when the tunnel ID is unknown. So
    this cluster leaves every answer to the tunnel endpoint (``hub.tunnel.TunnelServer``,
    ``devices.tunnel_client.TunnelClient``), which sees each command as a request listener.
    """

    class AttributeDefs(BaseAttributeDefs):
        close_tunnel_timeout: Final = ZCLAttributeDef(id=0x0000, type=t.uint16_t, access="r")

    class ServerCommandDefs(smartenergy.Tunneling.ServerCommandDefs):
        request_tunnel: Final = ZCLCommandDef(
            id=0x00,
            schema={
                "protocol_id": TunnelProtocol,
                "manufacturer_code": t.uint16_t,
                "flow_control_support": t.Bool,
                "maximum_incoming_transfer_size": t.uint16_t,
            },
        )
        close_tunnel: Final = ZCLCommandDef(id=0x01, schema={"tunnel_id": t.uint16_t})
        transfer_data_client_to_server: Final = ZCLCommandDef(id=0x02, schema=_TRANSFER_DATA)
        transfer_data_error_client_to_server: Final = ZCLCommandDef(id=0x03, schema=_TRANSFER_DATA_ERROR)
        ack_transfer_data_client_to_server: Final = ZCLCommandDef(id=0x04, schema=_ACK_TRANSFER_DATA)
        ready_data_client_to_server: Final = ZCLCommandDef(id=0x05, schema=_READY_DATA)
        get_supported_tunnel_protocols: Final = ZCLCommandDef(
            id=0x06, schema={"protocol_offset": t.uint8_t}
        )

    class ClientCommandDefs(smartenergy.Tunneling.ClientCommandDefs):
        request_tunnel_response: Final = ZCLCommandDef(
            id=0x00,
            schema={
                "tunnel_id": t.uint16_t,
                "tunnel_status": TunnelStatus,
                "maximum_incoming_transfer_size": t.uint16_t,
            },
        )
        transfer_data_server_to_client: Final = ZCLCommandDef(id=0x01, schema=_TRANSFER_DATA)
        transfer_data_error_server_to_client: Final = ZCLCommandDef(id=0x02, schema=_TRANSFER_DATA_ERROR)
        ack_transfer_data_server_to_client: Final = ZCLCommandDef(id=0x03, schema=_ACK_TRANSFER_DATA)
        ready_data_server_to_client: Final = ZCLCommandDef(id=0x04, schema=_READY_DATA)
        supported_tunnel_protocols_response: Final = ZCLCommandDef(
            id=0x05,
            schema={
                "protocol_list_complete": t.Bool,
                "protocols": t.LVList[SupportedProtocol, t.uint8_t],
            },
        )
        tunnel_closure_notification: Final = ZCLCommandDef(id=0x06, schema={"tunnel_id": t.uint16_t})

    def handle_cluster_request(
        self, hdr: foundation.ZCLHeader, args: Any, *, dst_addressing: t.AddrMode | None = None
    ) -> None:
        """Send nothing: the tunnel endpoint listening for the command answers it."""


class NotificationFlags(t.bitmap32):
    """The Functional Notification Flags attribute (SE 1.4 Table D-59), bit by bit.

    Bits 6..8 and 9..11 are 3-bit fields (push historical metering / prepayment data set),
    not flags; they are left out.
    """

    NEW_OTA_FIRMWARE = 1 << 0
    CBKE_UPDATE_REQUEST = 1 << 1
    TIME_SYNC = 1 << 2
    STAY_AWAKE_REQUEST_HAN = 1 << 4
    STAY_AWAKE_REQUEST_WAN = 1 << 5
    PUSH_ALL_STATIC_DATA_BASIC = 1 << 12
    PUSH_ALL_STATIC_DATA_METERING = 1 << 13
    PUSH_ALL_STATIC_DATA_PREPAYMENT = 1 << 14
    NETWORK_KEY_ACTIVE = 1 << 15
    DISPLAY_MESSAGE = 1 << 16
    CANCEL_ALL_MESSAGES = 1 << 17
    CHANGE_SUPPLY = 1 << 18
    LOCAL_CHANGE_SUPPLY = 1 << 19
    SET_UNCONTROLLED_FLOW_THRESHOLD = 1 << 20
    TUNNEL_MESSAGE_PENDING = 1 << 21
    GET_SNAPSHOT = 1 << 22
    GET_SAMPLED_DATA = 1 << 23
    NEW_SUB_GHZ_CHANNEL_MASKS_AVAILABLE = 1 << 24
    ENERGY_SCAN_PENDING = 1 << 25
    CHANNEL_CHANGE_PENDING = 1 << 26


class MeteringClientAttributes(BaseAttributeDefs):
    """The Metering client's Notification Attribute Set, hosted by the CH on a mirror.

    zigpy keys a cluster's attributes by ID without a side, and the Metering server's
    0x0000 is CurrentSummationDelivered; so the client attributes live here, apart.
    """

    functional_notification_flags: Final = ZCLAttributeDef(
        id=0x0000, type=NotificationFlags, access="r", mandatory=True
    )


#: RequestMirrorResponse's endpoint when the CH cannot (or will not) mirror the device.
NO_MIRROR_ENDPOINT = 0xFFFF


class Metering(smartenergy.Metering):
    """zigpy's Metering cluster, leaving mirror traffic to the CH's mirror.

    On the CH a GSME's Metering server cluster object receives the GSME's RequestMirror
    and its reads of the mirror's client attributes (Read Attributes, server to client).
    zigpy would answer the first with a Default Response and the second from the GSME's own
    *server* attribute table (UNSUPPORTED_ATTRIBUTE); the mirror (``hub.mirror``) answers
    both instead, so zigpy's answers are suppressed for exactly these two.
    """

    def handle_cluster_request(
        self, hdr: foundation.ZCLHeader, args: Any, *, dst_addressing: t.AddrMode | None = None
    ) -> None:
        if _is_mirror_request(hdr):
            return
        super().handle_cluster_request(hdr, args)

    def handle_cluster_general_request(
        self, hdr: foundation.ZCLHeader, args: Any, *, dst_addressing: t.AddrMode | None = None
    ) -> None:
        if is_client_attribute_read(hdr):
            return
        super().handle_cluster_general_request(hdr, args)


def _is_mirror_request(hdr: foundation.ZCLHeader) -> bool:
    return (
        hdr.frame_control.is_cluster
        and hdr.direction == foundation.Direction.Server_to_Client
        and hdr.command_id
        in (
            Metering.ClientCommandDefs.request_mirror.id,
            Metering.ClientCommandDefs.remove_mirror.id,
        )
    )


def is_client_attribute_read(hdr: foundation.ZCLHeader) -> bool:
    """Whether ``hdr`` is a Read Attributes of a cluster's client-side attributes."""
    return (
        not hdr.frame_control.is_cluster
        and hdr.command_id == foundation.GeneralCommand.Read_Attributes
        and hdr.direction == foundation.Direction.Server_to_Client
    )
