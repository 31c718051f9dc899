"""The EZSP layer of the twin, fed frames directly (no serial link, no bellows app)."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

from bellows.ash import AshProtocol, DataFrame, Reserved, RstFrame
import bellows.types as bt
import pytest
import zigpy.types as zt

from hanbench.errors import BadInput
from hanbench.twin.ash import AshNcp
from hanbench.twin.ezsp_codec import COMMANDS, COMMANDS_BY_ID, FRAME_FORMAT_V1
from hanbench.twin.ezsp_ncp import EzspNcp
from hanbench.twin.ncp_state import STATE_FILE_NAME, NvramStore


def command(seq: int, name: str, **params: Any) -> bytes:
    """A host command in the v8+ frame layout, encoded with bellows' schema."""
    frame_id, tx_schema, _ = COMMANDS[name]
    return (bytes([seq, 0x00, FRAME_FORMAT_V1]) + zt.uint16_t(frame_id).serialize()
            + bt.serialize_dict([], params, tx_schema))


def decode(frame: bytes) -> tuple[int, int, str, dict[str, Any]]:
    """(seq, frame control, name, fields) of a v8+ frame from the NCP."""
    frame_id, body = zt.uint16_t.deserialize(frame[3:])
    name, _, rx_schema = COMMANDS_BY_ID[frame_id]
    fields, rest = bt.deserialize_dict(body, rx_schema) if isinstance(rx_schema, dict) else (
        rx_schema.deserialize(body)[0].as_dict(), b"")
    assert rest == b""
    return frame[0], frame[1], name, fields


class Host:
    def __init__(self, state_dir: Path) -> None:
        self.sent: list[bytes] = []
        self.ncp = EzspNcp(NvramStore(state_dir), self.sent.append)

    def ask(self, name: str, **params: Any) -> list[tuple[int, int, str, dict[str, Any]]]:
        self.sent.clear()
        self.ncp.link.frame_received(command(7, name, **params))
        return [decode(f) for f in self.sent]

    def negotiate(self) -> None:
        self.ask("version", desiredProtocolVersion=13)


def test_legacy_version_is_answered_in_the_legacy_layout(tmp_path: Path) -> None:
    host = Host(tmp_path)
    host.ncp.link.frame_received(bytes([0, 0x00, 0x00, 4]))
    (reply,) = host.sent
    assert reply[:3] == bytes([0, 0x80, 0x00])
    version, _ = zt.uint8_t.deserialize(reply[3:])
    assert version == 13


def test_commands_before_version_are_refused(tmp_path: Path) -> None:
    host = Host(tmp_path)
    assert host.ask("nop") == [(7, 0x80, "invalidCommand", {"status": bt.EzspStatus.ERROR_VERSION_NOT_SET})]


def test_command_without_emulation_gets_invalid_command_and_a_log_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    host = Host(tmp_path)
    host.negotiate()
    with caplog.at_level(logging.WARNING, logger="hanbench.twin.ezsp_dispatch"):
        replies = host.ask("getNeighbor", index=0)
    assert replies == [(7, 0x80, "invalidCommand", {"status": bt.EzspStatus.ERROR_INVALID_FRAME_ID})]
    assert "getNeighbor" in caplog.text


def test_unknown_frame_id_and_truncated_payload_are_refused(tmp_path: Path) -> None:
    host = Host(tmp_path)
    host.negotiate()
    host.sent.clear()
    host.ncp.link.frame_received(bytes([9, 0x00, FRAME_FORMAT_V1, 0xEE, 0x0E]))
    host.ncp.link.frame_received(command(10, "getConfigurationValue", configId=bt.EzspConfigId.CONFIG_SECURITY_LEVEL)[:-1])
    assert [decode(f)[2:] for f in host.sent] == [
        ("invalidCommand", {"status": bt.EzspStatus.ERROR_INVALID_FRAME_ID}),
        ("invalidCommand", {"status": bt.EzspStatus.ERROR_TRUNCATED}),
    ]


def form(host: Host) -> list[tuple[int, int, str, dict[str, Any]]]:
    host.ask("setInitialSecurityState", state=bt.EmberInitialSecurityState(
        bitmask=bt.EmberInitialSecurityBitmask.HAVE_NETWORK_KEY, preconfiguredKey=bt.KeyData(b"ZigBeeAlliance09"),
        networkKey=bt.KeyData(bytes(range(16))), networkKeySequenceNumber=0,
        preconfiguredTrustCenterEui64=bt.EUI64(bytes(8)),
    ))
    return host.ask("formNetwork", parameters=bt.EmberNetworkParameters(
        extendedPanId=bt.ExtendedPanId.convert("11:22:33:44:55:66:77:88"), panId=0x1A2B, radioTxPower=8,
        radioChannel=20, joinMethod=bt.EmberJoinMethod.USE_MAC_ASSOCIATION, nwkManagerId=0,
        nwkUpdateId=0, channels=bt.Channels.CHANNEL_20,
    ))


def test_form_network_answers_then_calls_back_and_persists(tmp_path: Path) -> None:
    host = Host(tmp_path)
    host.negotiate()
    assert host.ask("networkInit", networkInitBitmask=0)[0][3] == {"status": bt.EmberStatus.NOT_JOINED}
    (response, callback) = form(host)
    assert response == (7, 0x80, "formNetwork", {"status": bt.EmberStatus.SUCCESS})
    assert callback == (7, 0x90, "stackStatusHandler", {"status": bt.EmberStatus.NETWORK_UP})
    saved = json.loads((tmp_path / STATE_FILE_NAME).read_text())
    assert saved["network"]["pan_id"] == 0x1A2B and saved["network_key"] == bytes(range(16)).hex()

    restarted = Host(tmp_path)
    restarted.negotiate()
    assert [r[2:] for r in restarted.ask("networkInit", networkInitBitmask=0)] == [
        ("networkInit", {"status": bt.EmberStatus.SUCCESS}),
        ("stackStatusHandler", {"status": bt.EmberStatus.NETWORK_UP}),
    ]
    (_, _, _, params) = restarted.ask("getNetworkParameters")[0]
    assert params["parameters"].panId == 0x1A2B and params["nodeType"] == bt.EmberNodeType.COORDINATOR


def test_configuration_is_frozen_once_the_network_is_up(tmp_path: Path) -> None:
    host = Host(tmp_path)
    host.negotiate()
    config = bt.EzspConfigId.CONFIG_ADDRESS_TABLE_SIZE
    assert host.ask("setConfigurationValue", configId=config, value=16)[0][3] == {"status": bt.EzspStatus.SUCCESS}
    form(host)
    assert host.ask("setConfigurationValue", configId=config, value=32)[0][3] == {
        "status": bt.EzspStatus.ERROR_INVALID_CALL}
    assert host.ask("getConfigurationValue", configId=config)[0][3] == {"status": bt.EzspStatus.SUCCESS, "value": 16}


async def test_unicast_without_air_fails_in_message_sent_handler(tmp_path: Path) -> None:
    host = Host(tmp_path)
    host.negotiate()
    form(host)
    aps = bt.EmberApsFrame(profileId=0x0104, clusterId=0x0000, sourceEndpoint=1, destinationEndpoint=1,
                           options=bt.EmberApsOption.APS_OPTION_RETRY, groupId=0, sequence=3)
    replies = host.ask("sendUnicast", type=bt.EmberOutgoingMessageType.OUTGOING_DIRECT,
                       indexOrDestination=0x1234, apsFrame=aps, messageTag=42, messageContents=b"\x00\x03\x00\x00\x00")
    assert replies[0][3]["status"] == bt.EmberStatus.SUCCESS
    host.sent.clear()
    await asyncio.sleep(0.01)
    ((_, control, name, fields),) = [decode(f) for f in host.sent]
    assert (control, name) == (0x90, "messageSentHandler")
    assert fields["status"] == bt.EmberStatus.DELIVERY_FAILED and fields["messageTag"] == 42


def test_a_corrupt_state_file_is_bad_input(tmp_path: Path) -> None:
    (tmp_path / STATE_FILE_NAME).write_text('{"format": 1, "eui64": ')
    with pytest.raises(BadInput, match="delete it"):
        NvramStore(tmp_path)


@pytest.mark.parametrize("scan", ["0100011a0000ff4f6eb64d", "eb00011a00000080008000"],
                         ids=["mask 0xB66E4FFF", "mask 0x80008000"])
def test_an_energy_scan_of_channels_that_do_not_exist_is_refused_and_the_chunk_goes_on(
        tmp_path: Path, scan: str) -> None:
    """Frames a fuzzer found: startScan (energy) with bits outside channels 11-26."""
    sent: list[bytes] = []
    ncp = EzspNcp(NvramStore(tmp_path), sent.append)
    ash = AshNcp(deliver=ncp.link.frame_received, on_reset=ncp.power_on_reset)
    ash.attach(lambda _: None)

    def data(frm_num: int, ezsp: bytes) -> bytes:
        frame = DataFrame(frm_num=frm_num, re_tx=False, ack_num=0, ezsp_frame=ezsp)
        return AshProtocol._stuff_bytes(frame.to_bytes()) + bytes([Reserved.FLAG])

    ash.data_received(AshProtocol._stuff_bytes(RstFrame().to_bytes()) + bytes([Reserved.FLAG]))
    ash.data_received(data(0, command(0, "version", desiredProtocolVersion=13)))
    # One chunk from the serial port: the bad scan, then a command that must still run
    ash.data_received(data(1, bytes.fromhex(scan)) + data(2, command(2, "nop")))
    assert [decode(f)[2:] for f in sent[1:]] == [
        ("startScan", {"status": bt.EmberStatus.MAC_INVALID_CHANNEL_MASK}),
        ("nop", {}),
    ]
