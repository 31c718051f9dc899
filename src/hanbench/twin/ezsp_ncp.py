"""EZSP v13 command meaning: the behaviour of an EmberZNet 7.4 coordinator NCP.

Each `_cmd_<name>` method answers the EZSP command of that name (bellows' spelling)
with the fields of its response schema. Frames, the version gate, parameter decoding
and the order of responses and callbacks are `ezsp_dispatch`'s job, as bellows keeps
its protocol handler apart from what its application does with each frame.

Radio traffic goes through an `AirLink` (the bench's virtual air); without one the
NCP is a coordinator alone on its channel: broadcasts go nowhere and unicasts fail.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
import logging
from typing import Any, Protocol

import bellows.types as t
import zigpy.exceptions
import zigpy.types as zt
import zigpy.zdo.types as zdo_t

from hanbench.radio.mac import MAX_APS_PAYLOAD_OCTETS, aps_fragment_octets, max_aps_payload_octets
from hanbench.twin import coordinator_zdo
from hanbench.twin.ezsp_codec import EZSP_VERSION
from hanbench.twin.ezsp_dispatch import EzspDispatcher, Handler
from hanbench.twin.ncp_state import NetworkTokens, NvramStore, UNSET_EUI64

LOGGER = logging.getLogger(__name__)

STACK_TYPE = 2  # EmberZNet "Zigbee PRO" stack
STACK_VERSION = 0x7440  # 7.4.4.0, reported nibble per digit
VERSION_INFO = (358, 7, 4, 4, 0)  # build, major, minor, patch, special
COORDINATOR_NWK = 0x0000
NO_NODE_ID = 0xFFFE
UNKNOWN_NODE_ID = 0xFFFF
NO_ENTRY_INDEX = 0xFF
MFG_TOKENS = {
    t.EzspMfgTokenId.MFG_STRING: b"hanbench".ljust(16, b"\xff"),
    t.EzspMfgTokenId.MFG_BOARD_NAME: b"EZSP twin".ljust(16, b"\xff"),
    # Never burnt: bellows may write a custom EUI64 through the NV3 token instead
    t.EzspMfgTokenId.MFG_CUSTOM_EUI_64: b"\xff" * 8,
}
RESTORED_EUI64_TOKENS = (t.NV3KeyId.CREATOR_STACK_RESTORED_EUI64, t.NV3KeyId.NVM3KEY_STACK_RESTORED_EUI64)
# What an energy scan reads on every channel: the virtual air is quiet
QUIET_CHANNEL_RSSI = -92
DEFAULT_LQI = 255
DEFAULT_RSSI = -40

# EmberZNet's power-on configuration values for what bellows reads or writes
DEFAULT_CONFIGURATION = {
    t.EzspConfigId.CONFIG_PACKET_BUFFER_COUNT: 75,
    t.EzspConfigId.CONFIG_STACK_PROFILE: 0,
    t.EzspConfigId.CONFIG_SECURITY_LEVEL: 5,
    t.EzspConfigId.CONFIG_ADDRESS_TABLE_SIZE: 8,
    t.EzspConfigId.CONFIG_MULTICAST_TABLE_SIZE: 8,
    t.EzspConfigId.CONFIG_KEY_TABLE_SIZE: 0,
    t.EzspConfigId.CONFIG_SOURCE_ROUTE_TABLE_SIZE: 7,
    t.EzspConfigId.CONFIG_MAX_END_DEVICE_CHILDREN: 6,
    t.EzspConfigId.CONFIG_SUPPORTED_NETWORKS: 1,
    t.EzspConfigId.CONFIG_TRUST_CENTER_ADDRESS_CACHE_SIZE: 0,
    t.EzspConfigId.CONFIG_INDIRECT_TRANSMISSION_TIMEOUT: 3000,
    t.EzspConfigId.CONFIG_END_DEVICE_POLL_TIMEOUT: 8,
    t.EzspConfigId.CONFIG_APPLICATION_ZDO_FLAGS: 0,
    t.EzspConfigId.CONFIG_PAN_ID_CONFLICT_REPORT_THRESHOLD: 1,
    t.EzspConfigId.CONFIG_TC_REJOINS_USING_WELL_KNOWN_KEY_TIMEOUT_S: 300,
    t.EzspConfigId.CONFIG_ROUTE_TABLE_SIZE: 16,
}


#: The APS payload of one fragment of an APS-secured message (what the air sends it in).
FRAGMENT_OCTETS = aps_fragment_octets(aps_secured=True)


def max_unicast_octets(aps: t.EmberApsFrame) -> int:
    """The longest unicast payload EmberZNet sends in one frame: emberMaximumApsPayloadLength,
    less the APS security header and MIC when the host asks for APS encryption."""
    return max_aps_payload_octets(aps_secured=t.EmberApsOption.APS_OPTION_ENCRYPTION in t.EmberApsOption(aps.options))


class AirLink(Protocol):
    """How the NCP's radio reaches the air (see `hanbench.twin.air_link`)."""

    async def transmit(self, packet: zt.ZigbeePacket) -> None:
        """Send a frame; raise `zigpy.exceptions.DeliveryError` if it is not delivered."""

    def permit_joining(self, duration_s: float) -> None:
        """Open the network to joins for `duration_s` seconds (0 closes it)."""


class EzspNcp:
    """The EZSP command set of the emulated NCP.

    `link` is the dispatcher that feeds it the host's commands (`link.frame_received`)
    and carries its callbacks; `send` hands a finished EZSP frame to ASH. RAM state
    (configuration, endpoints, policies, tables) is rebuilt by `power_on_reset`; what
    the chip keeps in flash is `store.nvram`, saved whenever it changes.
    """

    def __init__(self, store: NvramStore, send: Callable[[bytes], None]) -> None:
        self.store = store
        self.link = EzspDispatcher(send, self._handler_for)
        self.air: AirLink | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.power_on_reset()

    def _handler_for(self, name: str) -> Handler | None:
        handler: Handler | None = getattr(self, f"_cmd_{name}", None)
        return handler

    # -- RAM state --------------------------------------------------------------

    def power_on_reset(self) -> None:
        """Forget everything a reset forgets; the network stays in NVRAM."""
        for task in self._tasks:
            task.cancel()
        self._tasks.clear()
        self.link.reset()
        self.network_up = False
        self.configuration: dict[t.EzspConfigId, int] = dict(DEFAULT_CONFIGURATION)
        self.values: dict[t.EzspValueId, bytes] = {}
        self.policies: dict[t.EzspPolicyId, int] = {}
        self.endpoints: dict[int, zdo_t.SimpleDescriptor] = {}
        self.address_table: dict[int, tuple[t.EUI64, int]] = {}
        self.extended_timeouts: dict[t.EUI64, bool] = {}
        self.multicast_table: dict[int, t.EmberMulticastTableEntry] = {}
        self.transient_keys: dict[t.EUI64, t.KeyData] = {}
        self.counters: dict[t.EmberCounterType, int] = dict.fromkeys(t.EmberCounterType, 0)
        self._aps_counter = 0

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _count(self, counter: t.EmberCounterType) -> None:
        self.counters[counter] += 1

    # -- identity and versions --------------------------------------------------

    @property
    def eui64(self) -> t.EUI64:
        """The EUI64 the stack currently uses."""
        return t.EUI64.convert(self.store.nvram.effective_eui64)

    @property
    def node_id(self) -> int:
        """The coordinator's NWK address, or 0xFFFE while it is on no network."""
        return COORDINATOR_NWK if self.network_up else NO_NODE_ID

    def _cmd_version(self, desiredProtocolVersion: int) -> dict[str, Any]:
        # The chip always answers with the one version it speaks; a host that asked
        # for another one switches and asks again
        return {"protocolVersion": EZSP_VERSION, "stackType": STACK_TYPE,
                "stackVersion": STACK_VERSION}

    def _cmd_nop(self) -> dict[str, Any]:
        return {}

    def _cmd_echo(self, data: bytes) -> dict[str, Any]:
        return {"echo": data}

    def _cmd_customFrame(self, payload: bytes) -> dict[str, Any]:
        # No XNCP extensions in this firmware: bellows reads the failure as "none"
        return {"status": t.EmberStatus.INVALID_CALL, "reply": b""}

    def _cmd_getEui64(self) -> dict[str, Any]:
        return {"eui64": self.eui64}

    def _cmd_getNodeId(self) -> dict[str, Any]:
        return {"nodeId": self.node_id}

    def _cmd_getMfgToken(self, tokenId: t.EzspMfgTokenId) -> dict[str, Any]:
        return {"tokenData": MFG_TOKENS.get(tokenId, b"")}

    def _cmd_setManufacturerCode(self, code: int) -> dict[str, Any]:
        return {}

    def _cmd_getTokenData(self, token: int, index: int) -> dict[str, Any]:
        nvram = self.store.nvram
        if token in RESTORED_EUI64_TOKENS and index == 0:
            value = t.EUI64.convert(nvram.restored_eui64 or UNSET_EUI64).serialize()
            return {"status": t.EmberStatus.SUCCESS, "value": t.LVBytes32(value)}
        return {"status": t.EmberStatus.NOT_FOUND, "value": t.LVBytes32(b"")}

    def _cmd_setTokenData(self, token: int, index: int, token_data: bytes) -> dict[str, Any]:
        if token in RESTORED_EUI64_TOKENS and index == 0 and len(token_data) == 8:
            eui64, _ = t.EUI64.deserialize(token_data)
            self.store.nvram.restored_eui64 = str(eui64)
            self.store.save()
            return {"status": t.EmberStatus.SUCCESS}
        return {"status": t.EmberStatus.NOT_FOUND}

    # -- configuration, values, policies ---------------------------------------

    def _cmd_getConfigurationValue(self, configId: t.EzspConfigId) -> dict[str, Any]:
        if configId not in self.configuration:
            return {"status": t.EzspStatus.ERROR_INVALID_ID, "value": 0}
        return {"status": t.EzspStatus.SUCCESS, "value": self.configuration[configId]}

    def _cmd_setConfigurationValue(self, configId: t.EzspConfigId, value: int) -> dict[str, Any]:
        if configId not in self.configuration:
            return {"status": t.EzspStatus.ERROR_INVALID_ID}
        if self.network_up:
            # Tables are sized when the stack starts; it refuses changes afterwards
            return {"status": t.EzspStatus.ERROR_INVALID_CALL}
        self.configuration[configId] = value
        return {"status": t.EzspStatus.SUCCESS}

    def _cmd_getValue(self, valueId: t.EzspValueId) -> dict[str, Any]:
        if valueId == t.EzspValueId.VALUE_VERSION_INFO:
            build, *digits = VERSION_INFO
            value = zt.uint16_t(build).serialize() + bytes(digits)
        elif valueId == t.EzspValueId.VALUE_FREE_BUFFERS:
            in_flight = len(self._tasks)
            value = bytes([max(0, self.configuration[t.EzspConfigId.CONFIG_PACKET_BUFFER_COUNT] - in_flight) & 0xFF])
        elif valueId in self.values:
            value = self.values[valueId]
        else:
            return {"status": t.EzspStatus.ERROR_INVALID_ID, "value": b""}
        return {"status": t.EzspStatus.SUCCESS, "value": value}

    def _cmd_setValue(self, valueId: t.EzspValueId, value: bytes) -> dict[str, Any]:
        frame_counters = {t.EzspValueId.VALUE_NWK_FRAME_COUNTER: "nwk_frame_counter",
                          t.EzspValueId.VALUE_APS_FRAME_COUNTER: "aps_frame_counter"}
        if valueId in frame_counters:
            # Frame counters can only be set while on no network (UG100)
            if self.network_up or len(value) != 4:
                return {"status": t.EzspStatus.ERROR_INVALID_CALL}
            setattr(self.store.nvram, frame_counters[valueId], int.from_bytes(value, "little"))
            self.store.save()
            return {"status": t.EzspStatus.SUCCESS}
        self.values[valueId] = bytes(value)
        return {"status": t.EzspStatus.SUCCESS}

    def _cmd_setPolicy(self, policyId: t.EzspPolicyId, decisionId: int) -> dict[str, Any]:
        self.policies[policyId] = int(decisionId)
        return {"status": t.EzspStatus.SUCCESS}

    def _cmd_addEndpoint(self, endpoint: int, profileId: int, deviceId: int, deviceVersion: int,
                         inputClusterCount: int, outputClusterCount: int,
                         inputClusterList: list[int], outputClusterList: list[int]) -> dict[str, Any]:
        if endpoint in self.endpoints or self.network_up:
            return {"status": t.EzspStatus.ERROR_INVALID_CALL}
        self.endpoints[endpoint] = zdo_t.SimpleDescriptor(
            endpoint=endpoint, profile=profileId, device_type=deviceId,
            device_version=deviceVersion, input_clusters=list(inputClusterList),
            output_clusters=list(outputClusterList),
        )
        return {"status": t.EzspStatus.SUCCESS}

    def _cmd_setConcentrator(self, **_settings: Any) -> dict[str, Any]:
        return {"status": t.EmberStatus.SUCCESS}

    def _cmd_setSourceRouteDiscoveryMode(self, mode: int) -> dict[str, Any]:
        return {"remainingTime": 0}

    def _cmd_setRadioPower(self, power: int) -> dict[str, Any]:
        network = self.store.nvram.network
        if network is not None:
            network.tx_power = int(power)
            self.store.save()
        return {"status": t.EmberStatus.SUCCESS}

    def _cmd_readCounters(self) -> dict[str, Any]:
        return {"values": [min(v, 0xFFFF) for v in self.counters.values()]}

    def _cmd_readAndClearCounters(self) -> dict[str, Any]:
        values = self._cmd_readCounters()
        self.counters = dict.fromkeys(t.EmberCounterType, 0)
        return values

    # -- network formation and state -------------------------------------------

    def _cmd_networkState(self) -> dict[str, Any]:
        state = t.EmberNetworkStatus.JOINED_NETWORK if self.network_up else t.EmberNetworkStatus.NO_NETWORK
        return {"status": state}

    def _bring_network_up(self) -> None:
        self.network_up = True
        self.link.callback("stackStatusHandler", status=t.EmberStatus.NETWORK_UP)

    def _cmd_networkInit(self, networkInitBitmask: int) -> dict[str, Any]:
        if self.network_up:
            return {"status": t.EmberStatus.INVALID_CALL}
        if self.store.nvram.network is None:
            return {"status": t.EmberStatus.NOT_JOINED}
        self._bring_network_up()
        return {"status": t.EmberStatus.SUCCESS}

    def _cmd_setInitialSecurityState(self, state: t.EmberInitialSecurityState) -> dict[str, Any]:
        if self.network_up:
            return {"status": t.EmberStatus.INVALID_CALL}
        nvram = self.store.nvram
        nvram.security_bitmask = int(state.bitmask)
        nvram.network_key = state.networkKey.serialize().hex()
        nvram.network_key_seq = int(state.networkKeySequenceNumber)
        nvram.tc_link_key = state.preconfiguredKey.serialize().hex()
        self.store.save()
        return {"status": t.EmberStatus.SUCCESS}

    def _cmd_formNetwork(self, parameters: t.EmberNetworkParameters) -> dict[str, Any]:
        if self.network_up:
            return {"status": t.EmberStatus.INVALID_CALL}
        self.store.nvram.network = NetworkTokens(
            pan_id=int(parameters.panId),
            extended_pan_id=str(parameters.extendedPanId),
            channel=int(parameters.radioChannel),
            channel_mask=int(parameters.channels),
            tx_power=int(parameters.radioTxPower),
            # The stack ignores the update id on formation (bellows rewrites the token)
            nwk_update_id=0,
            nwk_manager_id=int(parameters.nwkManagerId),
        )
        self.store.save()
        self._bring_network_up()
        return {"status": t.EmberStatus.SUCCESS}

    def _cmd_leaveNetwork(self) -> dict[str, Any]:
        if not self.network_up:
            return {"status": t.EmberStatus.INVALID_CALL}
        self.network_up = False
        self.store.nvram.forget_network(keep_frame_counters=True)
        self.store.save()
        self.link.callback("stackStatusHandler", status=t.EmberStatus.NETWORK_DOWN)
        return {"status": t.EmberStatus.SUCCESS}

    def _cmd_tokenFactoryReset(self, excludeOutgoingFC: bool, excludeBootCounter: bool) -> dict[str, Any]:
        self.store.nvram.forget_network(keep_frame_counters=bool(excludeOutgoingFC))
        self.store.save()
        return {}

    def _cmd_clearKeyTable(self) -> dict[str, Any]:
        return {"status": t.EmberStatus.SUCCESS}

    def _cmd_gpSinkTableClearAll(self) -> dict[str, Any]:
        return {}

    def _cmd_clearTransientLinkKeys(self) -> dict[str, Any]:
        self.transient_keys.clear()
        return {}

    def _cmd_getNetworkParameters(self) -> dict[str, Any]:
        network = self.store.nvram.network
        if not self.network_up or network is None:
            return {"status": t.EmberStatus.NOT_JOINED, "nodeType": t.EmberNodeType.UNKNOWN_DEVICE,
                    "parameters": t.EmberNetworkParameters.deserialize(bytes(20))[0]}
        parameters = t.EmberNetworkParameters(
            extendedPanId=t.ExtendedPanId.convert(network.extended_pan_id),
            panId=network.pan_id, radioTxPower=network.tx_power & 0xFF,
            radioChannel=network.channel, joinMethod=t.EmberJoinMethod.USE_MAC_ASSOCIATION,
            nwkManagerId=network.nwk_manager_id, nwkUpdateId=network.nwk_update_id,
            channels=t.Channels(network.channel_mask),
        )
        return {"status": t.EmberStatus.SUCCESS, "nodeType": t.EmberNodeType.COORDINATOR,
                "parameters": parameters}

    def _cmd_getCurrentSecurityState(self) -> dict[str, Any]:
        if not self.network_up:
            return {"status": t.EmberStatus.NOT_JOINED,
                    "state": t.EmberCurrentSecurityState(bitmask=0, trustCenterLongAddress=self.eui64)}
        initial = t.EmberInitialSecurityBitmask(self.store.nvram.security_bitmask)
        current = t.EmberCurrentSecurityBitmask.HAVE_TRUST_CENTER_LINK_KEY
        if t.EmberInitialSecurityBitmask.TRUST_CENTER_GLOBAL_LINK_KEY in initial:
            current |= t.EmberCurrentSecurityBitmask.GLOBAL_LINK_KEY
        if t.EmberInitialSecurityBitmask.TRUST_CENTER_USES_HASHED_LINK_KEY in initial:
            current |= t.EmberCurrentSecurityBitmask.TRUST_CENTER_USES_HASHED_LINK_KEY
        return {"status": t.EmberStatus.SUCCESS,
                "state": t.EmberCurrentSecurityState(bitmask=current, trustCenterLongAddress=self.eui64)}

    def _cmd_exportKey(self, context: t.SecurityManagerContextV13) -> dict[str, Any]:
        nvram = self.store.nvram
        keys = {t.SecurityManagerKeyType.NETWORK: nvram.network_key,
                t.SecurityManagerKeyType.TC_LINK: nvram.tc_link_key}
        if context.core_key_type not in keys:
            return {"key": t.KeyData(bytes(16)), "status": t.sl_Status.NOT_FOUND}
        return {"key": t.KeyData(bytes.fromhex(keys[context.core_key_type])), "status": t.sl_Status.OK}

    def _cmd_getNetworkKeyInfo(self) -> dict[str, Any]:
        nvram = self.store.nvram
        info = t.SecurityManagerNetworkKeyInfo(
            network_key_set=nvram.network is not None, alternate_network_key_set=False,
            network_key_sequence_number=nvram.network_key_seq, alt_network_key_sequence_number=0,
            network_key_frame_counter=nvram.nwk_frame_counter,
        )
        return {"status": t.sl_Status.OK, "network_key_info": info}

    def _cmd_exportLinkKeyByIndex(self, index: int) -> dict[str, Any]:
        # The key table holds no application link keys: devices use the TC key
        return {"eui64": t.EUI64(bytes(8)), "plaintext_key": t.KeyData(bytes(16)),
                "key_data": t.SecurityManagerAPSKeyMetadata.deserialize(bytes(12))[0],
                "status": t.sl_Status.NOT_FOUND}

    def _cmd_findKeyTableEntry(self, address: t.EUI64, linkKey: bool) -> dict[str, Any]:
        return {"index": NO_ENTRY_INDEX}

    def _cmd_importTransientKey(self, eui64: t.EUI64, plaintext_key: t.KeyData,
                                flags: int) -> dict[str, Any]:
        self.transient_keys[eui64] = plaintext_key
        return {"status": t.sl_Status.OK}

    def _cmd_getChildData(self, index: int) -> dict[str, Any]:
        # Emulated devices join the coordinator as neighbours, not as children
        return {"status": t.EmberStatus.NOT_JOINED,
                "child_data": t.EmberChildDataV10.deserialize(bytes(32))[0]}

    def _cmd_startScan(self, scanType: t.EzspNetworkScanType, channelMask: t.Channels,
                       duration: int) -> dict[str, Any]:
        if scanType != t.EzspNetworkScanType.ENERGY_SCAN:
            # Active scans would need beacons from other networks: there are none
            self.link.callback("scanCompleteHandler", channel=0, status=t.EmberStatus.SUCCESS)
            return {"status": t.EmberStatus.SUCCESS}
        if int(channelMask) & ~int(t.Channels.ALL_CHANNELS) or not channelMask:
            # Only the 2.4 GHz channels 11-26 exist; EmberZNet refuses any other bit
            return {"status": t.EmberStatus.MAC_INVALID_CHANNEL_MASK}
        for channel in channelMask:
            self.link.callback("energyScanResultHandler", channel=channel, maxRssiValue=QUIET_CHANNEL_RSSI)
        self.link.callback("scanCompleteHandler", channel=0, status=t.EmberStatus.SUCCESS)
        return {"status": t.EmberStatus.SUCCESS}

    # -- addressing -------------------------------------------------------------

    def _known_devices(self) -> dict[t.EUI64, int]:
        known = {t.EUI64.convert(ieee): nwk for ieee, nwk in self.store.nvram.known_devices.items()}
        known.update({eui64: nwk for eui64, nwk in self.address_table.values()})
        return known

    def _cmd_lookupNodeIdByEui64(self, eui64: t.EUI64) -> dict[str, Any]:
        if eui64 == self.eui64:
            return {"nodeId": self.node_id}
        return {"nodeId": self._known_devices().get(eui64, UNKNOWN_NODE_ID)}

    def _cmd_lookupEui64ByNodeId(self, nodeId: int) -> dict[str, Any]:
        if nodeId == self.node_id:
            return {"status": t.EmberStatus.SUCCESS, "eui64": self.eui64}
        for eui64, nwk in self._known_devices().items():
            if nwk == nodeId:
                return {"status": t.EmberStatus.SUCCESS, "eui64": eui64}
        return {"status": t.EmberStatus.ERR_FATAL, "eui64": t.EUI64(bytes(8))}

    def _cmd_getExtendedTimeout(self, remoteEui64: t.EUI64) -> dict[str, Any]:
        return {"extendedTimeout": self.extended_timeouts.get(remoteEui64, False)}

    def _cmd_setExtendedTimeout(self, remoteEui64: t.EUI64, extendedTimeout: bool) -> dict[str, Any]:
        self.extended_timeouts[remoteEui64] = bool(extendedTimeout)
        return {}

    def _address_table_size(self) -> int:
        return self.configuration[t.EzspConfigId.CONFIG_ADDRESS_TABLE_SIZE]

    def _cmd_replaceAddressTableEntry(self, addressTableIndex: int, newEui64: t.EUI64, newId: int,
                                      newExtendedTimeout: bool) -> dict[str, Any]:
        if addressTableIndex >= self._address_table_size():
            return {"status": t.EmberStatus.ADDRESS_TABLE_INDEX_OUT_OF_RANGE,
                    "oldEui64": t.EUI64(bytes(8)), "oldId": UNKNOWN_NODE_ID, "oldExtendedTimeout": False}
        old_eui64, old_id = self.address_table.get(addressTableIndex, (t.EUI64(bytes(8)), UNKNOWN_NODE_ID))
        old_timeout = self.extended_timeouts.get(old_eui64, False)
        self.address_table[addressTableIndex] = (newEui64, int(newId))
        self.extended_timeouts[newEui64] = bool(newExtendedTimeout)
        return {"status": t.EmberStatus.SUCCESS, "oldEui64": old_eui64, "oldId": old_id,
                "oldExtendedTimeout": old_timeout}

    def _cmd_getAddressTableRemoteNodeId(self, addressTableIndex: int) -> dict[str, Any]:
        return {"nodeId": self.address_table.get(addressTableIndex, (None, UNKNOWN_NODE_ID))[1]}

    def _cmd_getAddressTableRemoteEui64(self, addressTableIndex: int) -> dict[str, Any]:
        return {"eui64": self.address_table.get(addressTableIndex, (t.EUI64(bytes(8)), 0))[0]}

    def _cmd_getMulticastTableEntry(self, index: int) -> dict[str, Any]:
        if index >= self.configuration[t.EzspConfigId.CONFIG_MULTICAST_TABLE_SIZE]:
            return {"status": t.EmberStatus.INDEX_OUT_OF_RANGE,
                    "value": t.EmberMulticastTableEntry(multicastId=0, endpoint=0, networkIndex=0)}
        entry = self.multicast_table.get(index, t.EmberMulticastTableEntry(multicastId=0, endpoint=0, networkIndex=0))
        return {"status": t.EmberStatus.SUCCESS, "value": entry}

    def _cmd_setMulticastTableEntry(self, index: int, value: t.EmberMulticastTableEntry) -> dict[str, Any]:
        if index >= self.configuration[t.EzspConfigId.CONFIG_MULTICAST_TABLE_SIZE]:
            return {"status": t.EmberStatus.INDEX_OUT_OF_RANGE}
        self.multicast_table[index] = value
        return {"status": t.EmberStatus.SUCCESS}

    # -- joining ----------------------------------------------------------------

    def _cmd_permitJoining(self, duration: int) -> dict[str, Any]:
        if not self.network_up:
            return {"status": t.EmberStatus.NETWORK_DOWN}
        if self.air is not None:
            # 0xFF means "until told otherwise" in Zigbee
            self.air.permit_joining(float("inf") if duration == 0xFF else float(duration))
        return {"status": t.EmberStatus.SUCCESS}

    def device_joined(self, nwk: int, ieee: t.EUI64, parent_nwk: int = COORDINATOR_NWK) -> None:
        """The air let a device in: tell the host through `trustCenterJoinHandler`,
        and remember the device so address lookups survive a restart."""
        if not self.network_up:
            return
        self._count(t.EmberCounterType.COUNTER_JOIN_INDICATION)
        self.store.nvram.known_devices[str(ieee)] = int(nwk)
        self.store.save()
        self.link.callback("trustCenterJoinHandler", newNodeId=nwk, newNodeEui64=ieee,
                      status=t.EmberDeviceUpdate.STANDARD_SECURITY_UNSECURED_JOIN,
                      policyDecision=t.EmberJoinDecision.USE_PRECONFIGURED_KEY,
                      parentOfNewNodeId=parent_nwk)

    # -- sending ----------------------------------------------------------------

    def _cmd_maximumPayloadLength(self) -> dict[str, Any]:
        return {"apsLength": MAX_APS_PAYLOAD_OCTETS}

    def _next_aps_counter(self) -> int:
        self._aps_counter = (self._aps_counter + 1) & 0xFF
        return self._aps_counter

    def _outgoing_packet(self, dst: zt.AddrModeAddress, aps: t.EmberApsFrame, data: bytes,
                         radius: int = 0) -> zt.ZigbeePacket:
        # APS_OPTION_RETRY is how the host asks EmberZNet for an APS ACK (and its retries).
        retry = t.EmberApsOption.APS_OPTION_RETRY in t.EmberApsOption(aps.options)
        return zt.ZigbeePacket(
            src=zt.AddrModeAddress(addr_mode=zt.AddrMode.NWK, address=COORDINATOR_NWK),
            src_ep=aps.sourceEndpoint, dst=dst, dst_ep=aps.destinationEndpoint,
            tsn=aps.sequence, profile_id=aps.profileId, cluster_id=aps.clusterId,
            data=zt.SerializableBytes(bytes(data)), radius=radius,
            tx_options=zt.TransmitOptions.ACK if retry else zt.TransmitOptions.NONE,
        )

    def _cmd_sendUnicast(self, type: t.EmberOutgoingMessageType, indexOrDestination: int,
                         apsFrame: t.EmberApsFrame, messageTag: int, messageContents: bytes) -> dict[str, Any]:
        if not self.network_up:
            return {"status": t.EmberStatus.NETWORK_DOWN, "sequence": 0}
        if type == t.EmberOutgoingMessageType.OUTGOING_VIA_ADDRESS_TABLE:
            destination = self.address_table.get(indexOrDestination, (None, UNKNOWN_NODE_ID))[1]
        elif type == t.EmberOutgoingMessageType.OUTGOING_DIRECT:
            destination = indexOrDestination
        else:
            return {"status": t.EmberStatus.BAD_ARGUMENT, "sequence": 0}
        if len(messageContents) > max_unicast_octets(apsFrame):
            # EmberZNet's answer to a payload longer than one frame: the stick sends no APS
            # fragments on its own (that is the host's fragmentation plugin, which bellows lacks).
            return {"status": t.EmberStatus.MESSAGE_TOO_LONG, "sequence": 0}
        packet = self._outgoing_packet(
            zt.AddrModeAddress(addr_mode=zt.AddrMode.NWK, address=destination), apsFrame, messageContents
        )
        self._spawn(self._deliver_unicast(type, indexOrDestination, apsFrame, messageTag, packet))
        return {"status": t.EmberStatus.SUCCESS, "sequence": self._next_aps_counter()}

    async def _deliver_unicast(self, message_type: t.EmberOutgoingMessageType, index_or_destination: int,
                               aps: t.EmberApsFrame, tag: int, packet: zt.ZigbeePacket) -> None:
        status = t.EmberStatus.SUCCESS
        if packet.dst.address == COORDINATOR_NWK:
            self._loop_back(packet)
        else:
            try:
                if self.air is None:
                    raise zigpy.exceptions.DeliveryError("the NCP is attached to no air")
                await self.air.transmit(packet)
            except zigpy.exceptions.DeliveryError as exc:
                LOGGER.debug("Unicast to 0x%04X failed: %s", packet.dst.address, exc)
                status = t.EmberStatus.DELIVERY_FAILED
        self._count(t.EmberCounterType.COUNTER_APS_DATA_TX_UNICAST_SUCCESS
                    if status == t.EmberStatus.SUCCESS else t.EmberCounterType.COUNTER_APS_DATA_TX_UNICAST_FAILED)
        self.link.callback("messageSentHandler", type=message_type, indexOrDestination=index_or_destination,
                      apsFrame=aps, messageTag=tag, status=status, messageContents=packet.data.serialize())

    def _loop_back(self, packet: zt.ZigbeePacket) -> None:
        """A frame to the coordinator itself: the stack answers ZDO, the rest goes up."""
        reply = coordinator_zdo.answer(packet, COORDINATOR_NWK, self.eui64, self.endpoints)
        self.packet_from_air(reply if reply is not None else packet)

    def _cmd_sendBroadcast(self, destination: int, apsFrame: t.EmberApsFrame, radius: int,
                           messageTag: int, messageContents: bytes) -> dict[str, Any]:
        if not self.network_up:
            return {"status": t.EmberStatus.NETWORK_DOWN, "sequence": 0}
        packet = self._outgoing_packet(
            zt.AddrModeAddress(addr_mode=zt.AddrMode.Broadcast, address=destination),
            apsFrame, messageContents, radius,
        )
        self._spawn(self._deliver_multi(t.EmberOutgoingMessageType.OUTGOING_BROADCAST, destination,
                                        apsFrame, messageTag, packet))
        return {"status": t.EmberStatus.SUCCESS, "sequence": self._next_aps_counter()}

    def _cmd_sendMulticast(self, apsFrame: t.EmberApsFrame, hops: int, nonmemberRadius: int,
                           messageTag: int, messageContents: bytes) -> dict[str, Any]:
        if not self.network_up:
            return {"status": t.EmberStatus.NETWORK_DOWN, "sequence": 0}
        packet = self._outgoing_packet(
            zt.AddrModeAddress(addr_mode=zt.AddrMode.Group, address=apsFrame.groupId),
            apsFrame, messageContents, hops,
        )
        self._spawn(self._deliver_multi(t.EmberOutgoingMessageType.OUTGOING_MULTICAST, apsFrame.groupId,
                                        apsFrame, messageTag, packet))
        return {"status": t.EmberStatus.SUCCESS, "sequence": self._next_aps_counter()}

    async def _deliver_multi(self, message_type: t.EmberOutgoingMessageType, destination: int,
                             aps: t.EmberApsFrame, tag: int, packet: zt.ZigbeePacket) -> None:
        """Broadcasts and multicasts have no ACK: the stack confirms them once sent."""
        status = t.EmberStatus.SUCCESS
        if self.air is not None:
            try:
                await self.air.transmit(packet)
            except zigpy.exceptions.DeliveryError as exc:
                LOGGER.debug("Broadcast failed: %s", exc)
                status = t.EmberStatus.DELIVERY_FAILED
        self._count(t.EmberCounterType.COUNTER_APS_DATA_TX_BROADCAST)
        self.link.callback("messageSentHandler", type=message_type, indexOrDestination=destination,
                      apsFrame=aps, messageTag=tag, status=status, messageContents=packet.data.serialize())

    # -- receiving --------------------------------------------------------------

    def packet_from_air(self, packet: zt.ZigbeePacket) -> None:
        """A frame the radio heard for the coordinator: pass it to the host."""
        if not self.network_up:
            return
        if packet.dst.addr_mode == zt.AddrMode.Broadcast:
            message_type = t.EmberIncomingMessageType.INCOMING_BROADCAST
            self._count(t.EmberCounterType.COUNTER_APS_DATA_RX_BROADCAST)
        elif packet.dst.addr_mode == zt.AddrMode.Group:
            message_type = t.EmberIncomingMessageType.INCOMING_MULTICAST
        else:
            message_type = t.EmberIncomingMessageType.INCOMING_UNICAST
            self._count(t.EmberCounterType.COUNTER_APS_DATA_RX_UNICAST)
        aps = t.EmberApsFrame(
            profileId=packet.profile_id, clusterId=packet.cluster_id,
            sourceEndpoint=packet.src_ep or 0, destinationEndpoint=packet.dst_ep or 0,
            options=t.EmberApsOption.APS_OPTION_NONE,
            groupId=packet.dst.address if packet.dst.addr_mode == zt.AddrMode.Group else 0,
            sequence=(packet.tsn or 0) & 0xFF,
        )
        data = packet.data.serialize()
        fragments = [data]
        if message_type == t.EmberIncomingMessageType.INCOMING_UNICAST and len(data) > MAX_APS_PAYLOAD_OCTETS:
            # Longer than one frame: on the air it came as APS fragments, and EmberZNet hands
            # each to the host as it comes (APS_OPTION_FRAGMENT, the block count in the group
            # ID's high octet and the block number in its low one); the host puts them back
            # together and acknowledges each with sendReply.
            fragments = [data[at:at + FRAGMENT_OCTETS] for at in range(0, len(data), FRAGMENT_OCTETS)]
            aps.options = t.EmberApsOption.APS_OPTION_FRAGMENT
        for index, fragment in enumerate(fragments):
            if len(fragments) > 1:
                aps.groupId = (len(fragments) << 8) | index
            self.link.callback(
                "incomingMessageHandler", type=message_type, apsFrame=aps,
                lastHopLqi=packet.lqi if packet.lqi is not None else DEFAULT_LQI,
                lastHopRssi=packet.rssi if packet.rssi is not None else DEFAULT_RSSI,
                sender=packet.src.address, bindingIndex=NO_ENTRY_INDEX, addressIndex=NO_ENTRY_INDEX,
                messageContents=fragment,
            )

    def _cmd_sendReply(self, sender: int, apsFrame: t.EmberApsFrame, messageContents: bytes) -> dict[str, Any]:
        """The host acknowledges an APS fragment: the stick's APS ACK of that block, sent on the
        air (the emulated sender, which sent the message whole, needs none)."""
        if not self.network_up:
            return {"status": t.EmberStatus.NETWORK_DOWN}
        return {"status": t.EmberStatus.SUCCESS}
